"""PNG plots people would rather look at than numbers (matplotlib, Agg)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from keras_compact.utils.atomic import atomic_file  # noqa: E402


def plot_training_curves(history, path, title="Pretraining", step_scale=1):
    """Plots loss and accuracy curves from a Keras history dict to a PNG.

    Args:
        history: dict of metric name -> list of per-epoch values (e.g.
            `fit(...).history`, or a CSVLogger file read back); keys starting
            with "val_" are drawn dashed beside their training metric.
        path: output .png path (written atomically).
        title: figure title.
        step_scale: training steps per epoch, for a step-numbered x axis.

    Example:
    ```python
    history = pretrainer.fit(...).history
    plot_training_curves(history, "runs/demo/curves.png", step_scale=100)
    ```
    """
    names = [k for k in history if not k.startswith("val_") and k != "epoch"]
    loss_names = [k for k in names if k.endswith("loss")]
    accuracy_names = [k for k in names if k.endswith("accuracy")]
    panels = [(n, "loss") for n in [loss_names] if n] + [
        (n, "accuracy") for n in [accuracy_names] if n
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4))
    axes = [axes] if len(panels) == 1 else list(axes)
    for axis, (metric_names, label) in zip(axes, panels):
        for name in metric_names:
            steps = [step_scale * (i + 1) for i in range(len(history[name]))]
            (line,) = axis.plot(steps, history[name], label=name)
            if f"val_{name}" in history:
                axis.plot(
                    steps[: len(history[f"val_{name}"])],
                    history[f"val_{name}"],
                    linestyle="--",
                    color=line.get_color(),
                    label=f"held-out {name}",
                )
        axis.set_xlabel("step" if step_scale > 1 else "epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_file(path) as temp:
        figure.savefig(temp, format="png", dpi=110)
    plt.close(figure)
    return path
