"""Labelled text tasks: data files, GLUE layouts, and their tf.data pipelines.

`text_files` and `glue` are plain Python (no TensorFlow); `datasets` builds
tf.data pipelines (TF-only, feeding `model.fit` on any backend).
"""
