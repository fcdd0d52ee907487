"""TF Serving's model layout: BASE_DIR/MODEL_NAME/VERSION/ (integer versions).

TF Serving watches BASE_DIR/MODEL_NAME and serves the highest integer
version directory. A version must appear complete: it is written to a
hidden temporary directory beside it and renamed into place
(`keras_compact.utils.atomic.atomic_directory`), so the server never loads a
half-written one.
"""

import os
import re

# A served model's name: a directory name and a URL path segment
# (/v1/models/NAME), so letters, digits, '.', '_' and '-' only.
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_model_name(model_name):
    """Raises ValueError unless `model_name` is a plain name such as 'sst2_int8'."""
    if not isinstance(model_name, str) or not _MODEL_NAME.fullmatch(model_name) or \
            model_name in (".", ".."):
        raise ValueError(f"model_name (--name) {model_name!r} must be a plain name of "
                         "letters, digits, '.', '_' and '-' (a directory and a URL segment "
                         "for TF Serving), such as 'section_classifier'.")


def existing_versions(model_dir):
    """Integer version directories under `model_dir`, sorted."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir)
                  if name.isdigit() and os.path.isdir(os.path.join(model_dir, name)))


def next_version(model_dir):
    """One more than the highest existing version (1 for a new model)."""
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def version_path(base_dir, model_name, version=None):
    """BASE_DIR/MODEL_NAME/VERSION for `version` (None: the next one).

    Raises:
        ValueError: a bad model name or version, or the version exists.
    """
    check_model_name(model_name)
    model_dir = os.path.join(base_dir, model_name)
    if version is None:
        version = next_version(model_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer, got version={version!r}.")
    path = os.path.join(model_dir, str(version))
    if os.path.exists(path):
        raise ValueError(f"Version {version} already exists at {path}; TF Serving treats "
                         "versions as immutable. Omit the version to write the next one "
                         f"({next_version(model_dir)}).")
    return path
