"""Write files and directories so readers never see them half-written."""

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary path beside `path`; renames it into place on success.

    The temporary file lives in the same directory, so `os.replace` is an
    atomic rename. On an exception the temporary file is removed and `path`
    is left as it was.

    Example:
    ```python
    with atomic_file("runs/model.keras") as temp:
        model.save(temp)
    ```
    """
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    base, extension = os.path.splitext(os.path.basename(path))
    # Keep the extension: Keras picks the format from it (.keras, .h5, ...).
    handle, temp = tempfile.mkstemp(
        prefix=f".{base}.", suffix=f".tmp{extension}", dir=directory
    )
    os.close(handle)
    os.remove(temp)
    try:
        yield temp
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


@contextlib.contextmanager
def atomic_directory(path):
    """Yields a temporary directory beside `path`; renames it into place.

    `path` must not exist yet (a directory rename cannot replace a non-empty
    directory atomically); on an exception the temporary directory is removed.
    """
    path = os.path.abspath(path)
    if os.path.exists(path):
        raise FileExistsError(
            f"{path} already exists; choose a new directory name or remove it."
        )
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    temp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    try:
        yield temp
        os.rename(temp, path)
    finally:
        if os.path.exists(temp):
            shutil.rmtree(temp)
