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
    plot_training_curves(history, "runs/main_job/curves.png", step_scale=100)
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
    return _save_png(figure, title, path)


def plot_attention_maps(teacher, student, inputs, teacher_layers, path, tokens=None,
                        title="Attention: teacher layer g(m) above student layer m"):
    """Head-averaged attention maps of mapped teacher and student layers.

    Row 1 shows teacher layer g(m), row 2 student layer m, for each student
    layer m: the softmax of the pre-softmax scores that TinyBERT's attention
    loss compares, averaged over heads, for the first example of `inputs`
    (padding cut off).

    Args:
        teacher, student: `CompactBackbone`s (or classifiers' `.backbone`).
        inputs: dict of "token_ids", "segment_ids", "padding_mask" arrays.
        teacher_layers: g(1..M), e.g. `distiller.teacher_layers` or
            `layer_mapping(M, N, "uniform")`.
        path: output .png path (written atomically).
        tokens: optional list of token strings for the axes.

    Example:
    ```python
    plot_attention_maps(teacher.backbone, student.backbone, features,
                        layer_mapping(2, 4), "runs/main_job/attention_maps.png")
    ```
    """
    import numpy as np
    from keras import ops

    length = int(np.asarray(inputs["padding_mask"])[0].sum())

    def maps(backbone):
        scores = backbone.compute_features(inputs, return_attention_scores=True)
        return [np.asarray(ops.convert_to_numpy(ops.softmax(s[:1, :, :length, :length], -1)))
                [0].mean(axis=0) for s in scores["attention_scores"]]

    teacher_maps, student_maps = maps(teacher), maps(student)
    columns = len(student_maps)
    figure, axes = plt.subplots(2, columns, figsize=(3.2 * columns, 6.4), squeeze=False)
    for m in range(columns):
        for row, (image, label) in enumerate((
                (teacher_maps[teacher_layers[m] - 1], f"teacher layer {teacher_layers[m]}"),
                (student_maps[m], f"student layer {m + 1}"))):
            axis = axes[row][m]
            axis.imshow(image, cmap="viridis", vmin=0.0)
            axis.set_title(label, fontsize=9)
            if tokens is not None and length <= 32:
                labels = list(tokens)[:length]
                axis.set_xticks(range(length), labels, rotation=90, fontsize=6)
                axis.set_yticks(range(length), labels, fontsize=6)
            else:
                axis.set_xticks([])
                axis.set_yticks([])
    return _save_png(figure, title, path)


def plot_layer_transitions(stats_by_model, path, title="Layer transitions"):
    """Plots per-layer L2 distance and cosine similarity for several models.

    Args:
        stats_by_model: dict of model name -> `layer_transitions(...)` result.
        path: output .png path (written atomically).
        title: figure title.

    Example:
    ```python
    plot_layer_transitions(
        {"ALBERT (shared)": layer_transitions(albert, features),
         "BERT (not shared)": layer_transitions(bert, features)},
        "runs/layer_transitions.png")
    ```
    """
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, stats in stats_by_model.items():
        layers = range(1, len(stats["l2_distance"]) + 1)
        axes[0].plot(layers, stats["l2_distance"], marker="o", label=name)
        axes[1].plot(layers, stats["cosine_similarity"], marker="o", label=name)
    for axis, label in zip(axes, ("L2 distance (input, output)",
                                  "cosine similarity (input, output)")):
        axis.set_xlabel("layer")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return _save_png(figure, title, path)


def _save_png(figure, title, path):
    """Titles, lays out and writes `figure` to `path` as a PNG (atomically), then frees it."""
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_file(path) as temp:
        figure.savefig(temp, format="png", dpi=110)
    plt.close(figure)
    return path
