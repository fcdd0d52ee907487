"""Train-step throughput of keras_compact vs keras-hub's AlbertBackbone.

Both run the same pretraining step (tied MLM head + SOP head, LAMB) on the
ALBERT-base configuration, batch 8, sequence 128, 20 masked positions, in the
same process, alternating so machine drift hits both alike. Prints tokens/s
and the ratio keras_compact / keras-hub for float32 and mixed_bfloat16.
Both compile with Keras' default `jit_compile="auto"` (no XLA on a CPU-only
TensorFlow machine, XLA on GPUs and TPUs).

    KERAS_BACKEND=tensorflow python tools/benchmarks/bench_pretrain_step.py [--steps 8]
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402

from keras_compact import CompactBackbone  # noqa: E402
from keras_compact.models.pretrainer import AlbertPretrainer  # noqa: E402
from keras_compact.optimizers import make_lamb_optimizer  # noqa: E402
from speed_probe import BATCH  # noqa: E402
from speed_probe import SEQ  # noqa: E402
from speed_probe import best_tokens_per_second  # noqa: E402
from speed_probe import pretraining_batch  # noqa: E402

VOCAB = 30000  # ALBERT-base's


def build(kind, policy):
    if kind == "keras_compact":
        backbone = CompactBackbone.from_preset("albert_base", dtype=policy)
    else:
        backbone = keras_hub.models.AlbertBackbone(
            vocabulary_size=VOCAB, num_layers=12, num_heads=12, embedding_dim=128,
            hidden_dim=768, intermediate_dim=3072, dtype=policy,
        )
    model = AlbertPretrainer(backbone)
    model.compile(optimizer=make_lamb_optimizer(BATCH, total_steps=10_000))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"])
    args = parser.parse_args()
    import tensorflow as tf

    x, y = pretraining_batch(VOCAB)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    print(f"backend={keras.backend.backend()} batch={BATCH} seq={SEQ} "
          f"steps={args.steps} rounds={args.rounds}")
    for policy in args.policies:
        models = {kind: build(kind, policy) for kind in ("keras_compact", "keras_hub")}
        rate = best_tokens_per_second(models, data, args.steps, args.rounds)
        print(f"{policy:>15}: keras_compact {rate['keras_compact']:8.1f} tok/s | "
              f"keras-hub {rate['keras_hub']:8.1f} tok/s | "
              f"ratio {rate['keras_compact'] / rate['keras_hub']:.3f} "
              f"(jit_compile {bool(models['keras_compact'].jit_compile)})", flush=True)


if __name__ == "__main__":
    main()
