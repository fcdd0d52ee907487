"""Helper process for test_mirrored_strategy.py: trains 3 steps, one device or
MirroredStrategy over 2 logical CPUs, from given weights on a given batch."""

import sys

from tests.distribution.strategy_run import fit_three_steps


def main(devices, init_weights, batch_file, out_weights, jit_compile="false"):
    def build():
        from keras_compact import CompactBackbone
        from keras_compact.models.pretrainer import AlbertPretrainer
        from keras_compact.optimizers import make_lamb_optimizer
        from tests.conftest import TINY_ALBERT

        model = AlbertPretrainer(CompactBackbone(**TINY_ALBERT))
        model.compile(optimizer=make_lamb_optimizer(8, total_steps=3, learning_rate=1e-2,
                                                    global_clipnorm=None),
                      jit_compile=jit_compile == "jit")
        model.load_weights(init_weights)
        return model

    model = fit_three_steps(devices, build, batch_file)
    model.save_weights(out_weights)
    import keras

    assert keras.backend.backend() == "tensorflow"


if __name__ == "__main__":
    main(int(sys.argv[1]), *sys.argv[2:6])
