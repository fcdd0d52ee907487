"""Keras' JAX distribution API for keras_compact models (JAX backend only).

`keras.distribution` shards variables and batches over a device mesh when
the backend is JAX (TensorFlow uses `tf.distribute`, see
`keras_compact.distribution.tf_strategies`). Set the distribution *before* building the
model: variables take their layout when they are created.

- `data_parallel()`: every variable replicated, batches split over all
  devices (the JAX counterpart of MirroredStrategy).
- `model_parallel(model_devices)`: a 2-D ("batch", "model") mesh with the
  transformer's dense kernels sharded Megatron-style over "model" (see
  `backbone_layout_map`) for presets too large for one device
  (albert_xxlarge's H=4096, FFN 16384).

Example:
```python
import keras
from keras_compact import CompactBackbone
from keras_compact.distribution import model_parallel

keras.distribution.set_distribution(model_parallel(model_devices=4))
backbone = CompactBackbone.from_preset("albert_xxlarge")
```
"""

import keras


def _devices(devices):
    devices = devices or keras.distribution.list_devices()
    if not devices:
        raise ValueError("No devices found for keras.distribution (JAX backend needed).")
    return devices


def _check_backend():
    if keras.backend.backend() != "jax":
        raise ValueError(
            f"keras.distribution needs KERAS_BACKEND=jax, got {keras.backend.backend()!r}. "
            "On TensorFlow use keras_compact.distribution.make_strategy('mirrored').")


def data_parallel(devices=None):
    """`keras.distribution.DataParallel` over `devices` (default: all)."""
    _check_backend()
    return keras.distribution.DataParallel(devices=_devices(devices))


def backbone_layout_map(device_mesh, model_axis="model"):
    """Shards a keras_compact backbone's dense kernels over `model_axis`.

    Megatron-style, so each block needs one all-reduce per half: query, key
    and value kernels are split by head and the FFN's first kernel by
    column; the attention output and FFN output kernels are split by row to
    match. Embeddings, LayerNorms, the pooler and the heads stay replicated.
    The head count and intermediate size must divide by the axis size.

    Args:
        device_mesh: a `keras.distribution.DeviceMesh` with `model_axis`.
        model_axis: str. The mesh axis to shard over.

    Returns:
        A `keras.distribution.LayoutMap`.
    """
    m = model_axis
    layout_map = keras.distribution.LayoutMap(device_mesh)
    layout_map[r".*attention/(query|key|value)/kernel"] = (None, m, None)
    layout_map[r".*attention/(query|key|value)/bias"] = (m, None)
    layout_map[r".*attention/attention_output/kernel"] = (m, None, None)
    layout_map[r".*feedforward.*/intermediate_dense/kernel"] = (None, m)
    layout_map[r".*feedforward.*/intermediate_dense/bias"] = (m,)
    layout_map[r".*feedforward.*/output_dense/kernel"] = (m, None)
    return layout_map


def model_parallel(model_devices=2, devices=None):
    """`keras.distribution.ModelParallel` on a ("batch", "model") mesh.

    Args:
        model_devices: int. Devices per model replica (the "model" axis);
            the remaining factor is the "batch" (data-parallel) axis.
        devices: optional device list (default: all).
    """
    _check_backend()
    devices = _devices(devices)
    if model_devices < 1 or len(devices) % model_devices:
        raise ValueError(f"model_devices={model_devices} must divide the {len(devices)} "
                         "devices; pass a divisor of the device count.")
    mesh = keras.distribution.DeviceMesh(
        shape=(len(devices) // model_devices, model_devices),
        axis_names=("batch", "model"), devices=devices)
    return keras.distribution.ModelParallel(
        layout_map=backbone_layout_map(mesh), batch_dim_name="batch")
