"""Read and write Hugging Face weight files as dicts of numpy arrays.

Supports `model.safetensors`, `pytorch_model.bin` (only when torch is
installed) and their sharded forms (`*.index.json`). Every array comes back
as float32 numpy, whatever the file's dtype (bfloat16 included), so the
converters never touch a framework tensor.
"""

import json
import os
import struct

import numpy as np

SAFETENSORS_NAME = "model.safetensors"
PYTORCH_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"

# Weight files in the order they are preferred when a directory has several.
_WEIGHT_FILES = (
    SAFETENSORS_NAME,
    SAFETENSORS_NAME + ".index.json",
    PYTORCH_NAME,
    PYTORCH_NAME + ".index.json",
)


def find_weight_file(path_or_dir):
    """Returns (config path, weights path) for a directory or a weight file.

    Args:
        path_or_dir: a checkpoint directory (config.json next to one of
            model.safetensors, pytorch_model.bin or their sharded index), or
            the path of one of those weight files.

    Returns:
        Tuple `(config_path, weights_path)`.

    Raises:
        FileNotFoundError: naming the files looked for.

    Example:
    ```python
    config_path, weights_path = find_weight_file("hf_albert/")
    ```
    """
    path_or_dir = os.fspath(path_or_dir)
    if os.path.isdir(path_or_dir):
        directory = path_or_dir
        candidates = [os.path.join(directory, name) for name in _WEIGHT_FILES]
        weights_path = next((p for p in candidates if os.path.isfile(p)), None)
        if weights_path is None:
            raise FileNotFoundError(
                f"No weights in {directory}: expected one of "
                f"{', '.join(_WEIGHT_FILES)}."
            )
    elif os.path.isfile(path_or_dir):
        weights_path = path_or_dir
        directory = os.path.dirname(os.path.abspath(path_or_dir))
    else:
        raise FileNotFoundError(f"{path_or_dir} does not exist.")
    config_path = os.path.join(directory, CONFIG_NAME)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(
            f"No {CONFIG_NAME} in {directory}; it is needed to rebuild the "
            "model's architecture."
        )
    return config_path, weights_path


def read_json(path):
    """Reads a JSON object from `path`.

    Example:
    ```python
    config = read_json("hf_albert/config.json")
    ```
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def load_weights(weights_path):
    """Loads a weight file (or sharded index) into {name: float32 array}.

    Example:
    ```python
    weights = load_weights("hf_albert/model.safetensors")
    weights["albert.embeddings.word_embeddings.weight"].shape  # (V, E)
    ```
    """
    weights_path = os.fspath(weights_path)
    if weights_path.endswith(".index.json"):
        weight_map = read_json(weights_path)["weight_map"]
        directory = os.path.dirname(weights_path)
        weights = {}
        for shard in sorted(set(weight_map.values())):
            weights.update(load_weights(os.path.join(directory, shard)))
        return weights
    if weights_path.endswith(".safetensors"):
        return _load_safetensors(weights_path)
    return _load_pytorch_bin(weights_path)


def _safetensors_numpy():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            "Reading and writing Hugging Face checkpoints needs the "
            "`safetensors` package: pip install safetensors"
        ) from None
    return safetensors.numpy


def _load_safetensors(path):
    load_file = _safetensors_numpy().load_file
    try:
        weights = load_file(path)
    except TypeError:
        # numpy has no bfloat16, which safetensors.numpy cannot map.
        weights = _load_safetensors_by_hand(path)
    return {
        name: np.asarray(value, dtype=np.float32)
        for name, value in weights.items()
    }


# safetensors dtype codes numpy reads directly.
_NUMPY_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def _load_safetensors_by_hand(path):
    """Parses the safetensors layout (8-byte header size, JSON header, data)."""
    with open(path, "rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_size))
        data = handle.read()
    weights = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":
            # bfloat16 is the top half of a float32.
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif info["dtype"] in _NUMPY_DTYPES:
            array = np.frombuffer(raw, dtype=_NUMPY_DTYPES[info["dtype"]])
        else:
            raise ValueError(
                f"{path}: tensor {name!r} has dtype {info['dtype']}, which "
                "cannot be converted to float32."
            )
        weights[name] = array.reshape(info["shape"])
    return weights


def _load_pytorch_bin(path):
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"Reading {os.path.basename(path)} needs PyTorch, which is not "
            "installed. Install torch, or convert the checkpoint to "
            "model.safetensors first."
        ) from None
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    return {
        name: tensor.detach().to(torch.float32).numpy()
        for name, tensor in state_dict.items()
        if hasattr(tensor, "detach")
    }


def save_safetensors(weights, path):
    """Writes {name: array} as float32 safetensors with HF's metadata.

    Example:
    ```python
    save_safetensors({"pooler.dense.bias": np.zeros(768)}, "out.safetensors")
    ```
    """
    save_file = _safetensors_numpy().save_file
    arrays = {
        name: np.ascontiguousarray(value, dtype=np.float32)
        for name, value in weights.items()
    }
    # transformers refuses safetensors files without a "format" entry.
    save_file(arrays, path, metadata={"format": "pt"})
