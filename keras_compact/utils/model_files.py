"""Loading a saved `.keras` model with errors that name what it was given as."""

import os
import zipfile


def load_keras_file(path, what, expected=None, fix=None):
    """Loads a `.keras` file (uncompiled), checking that it holds an `expected`.

    Args:
        path: the file.
        what: how the user gave it, e.g. "teacher" or "--model".
        expected: optional class (or tuple of classes) the model must be.
        fix: optional advice appended when the model is of another class.

    Returns:
        The loaded model.

    Raises:
        FileNotFoundError: `path` is not a file.
        ValueError: it is not a zip archive (a .keras file is one), Keras
            cannot load it (zip, config or weight errors), or it holds another
            class.
    """
    import keras

    from keras_compact import register_keras_classes

    register_keras_classes()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist.")
    if not zipfile.is_zipfile(path):  # else Keras answers "File not found"
        raise ValueError(f"{what} {path!r} is not a .keras file (a .keras file is a zip "
                         "archive; this one is not). Pass the .keras file written by "
                         "keras-compact (or model.save).")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # zip, config or weight errors from Keras
        raise ValueError(f"{what} {path!r} could not be loaded as a Keras model "
                         f"({type(error).__name__}: {error}).") from None
    if expected is not None and not isinstance(model, expected):
        name = expected.__name__
        article = "an" if name[:1] in "AEIOU" else "a"
        raise ValueError(f"{what} {path!r} holds a {type(model).__name__}, not {article} "
                         f"{name}" + (f": {fix}" if fix else "."))
    return model
