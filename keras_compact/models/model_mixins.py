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
