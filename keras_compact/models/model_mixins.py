"""Behaviour shared by the package's task models (pretrainer, classifier,
distiller)."""

import keras


class LayersBeforeInitMixin:
    """Lets a functional model assign its layers before `Model.__init__`.

    Functional models make their layers first and call `keras.Model.__init__`
    with the graph afterwards; on the torch backend a Module rejects attribute
    assignment until then. keras-hub's Backbone and Task bypass tracking the
    same way; the functional graph tracks the layers. Subclasses set
    `self._functional_ready = True` right after `super().__init__`.
    """

    def __setattr__(self, name, value):
        if not hasattr(self, "_functional_ready"):
            return object.__setattr__(self, name, value)
        return super().__setattr__(name, value)


class LossScaledCompileMixin:
    """`compile` that adds loss scaling when the trained network is float16.

    Keras wraps the optimizer in a `LossScaleOptimizer` only when the outer
    model's own policy is mixed_float16; here the policy that counts is the
    trained backbone's, named by `_loss_scale_policy()`. Because `compile`
    is overridden, Keras would skip `compile_from_config` when loading a
    `.keras` file; it is restored so a loaded model can `evaluate` and `fit`.
    """

    def _loss_scale_policy(self):
        raise NotImplementedError

    def compile(self, optimizer="rmsprop", **kwargs):
        optimizer = keras.optimizers.get(optimizer)
        if self._loss_scale_policy().name == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)


def _in_multi_worker_mode(strategy):
    extended = getattr(strategy, "extended", None)
    return bool(getattr(extended, "_in_multi_worker_mode", lambda: False)())


class MultiWorkerFitMixin:
    """Works around two Keras 3 failures of `fit` under MultiWorkerMirroredStrategy.

    Both are in Keras' TensorFlow trainer (private hooks overridden here; on
    JAX and torch these methods are never reached with a tf.distribute
    strategy, so they change nothing there):

    1. Before training, Keras builds the model from one batch fetched with
       `strategy.reduce("MEAN", batch)`, a collective on the whole input
       dict, which MultiWorkerMirroredStrategy rejects ("Attempt to convert
       a value ({'token_ids': PerReplica ...}) with an unsupported type").
       The build needs only shapes: this worker's first replica's batch
       gives them, with no collective.
    2. After each step Keras reduces the logs across workers with
       `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalar
       metric values ("Invalid reduction dimension 0 for input with 0
       dimensions"). In multi-worker mode the step returns them as shape
       [1], so the same reduce averages them across replicas into scalars,
       what Keras does for one worker's replicas.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is not None and strategy is not None:
            import tensorflow as tf

            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, next(it))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _logs_for_multi_worker(self, logs):
        if not _in_multi_worker_mode(getattr(self, "_distribute_strategy", None)):
            return logs
        import tensorflow as tf

        return tf.nest.map_structure(
            lambda t: tf.reshape(t, [1]) if t.shape.rank == 0 else t, logs)

    # *args: JAX's steps take (state, data) and return (logs, state); they
    # pass through untouched (no tf.distribute strategy there).
    def train_step(self, *args, **kwargs):
        return self._logs_for_multi_worker(super().train_step(*args, **kwargs))

    def test_step(self, *args, **kwargs):
        return self._logs_for_multi_worker(super().test_step(*args, **kwargs))
