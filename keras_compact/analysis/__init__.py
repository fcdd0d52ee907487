"""Looking inside trained models: ALBERT's layer-transition analysis
(`transitions`) and the PNG plots of training curves, attention maps and
layer transitions (`plotting`, matplotlib with the Agg backend).

Backend-agnostic: the analysis uses `keras.ops`; plots take numpy arrays.
"""

from keras_compact.analysis.plotting import plot_attention_maps
from keras_compact.analysis.plotting import plot_layer_transitions
from keras_compact.analysis.plotting import plot_training_curves
from keras_compact.analysis.transitions import layer_transitions

__all__ = ["layer_transitions", "plot_attention_maps", "plot_layer_transitions",
           "plot_training_curves"]
