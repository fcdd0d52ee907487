"""The notebooks run top to bottom (shortened by environment variables)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(__file__))


# Notebook -> files (under KC_NOTEBOOK_DIR) it must leave behind.
EXPECTED_OUTPUTS = {
    "01_pretrain_albert.ipynb": ["curves.png", "pretrainer.keras", "layer_transitions.png"],
    "02_distill_tinybert.ipynb": ["attention_maps.png", "teacher/classifier.keras",
                                  "distill/student_classifier.keras", "distill/results.json"],
    "03_export_and_serve.ipynb": ["serving/sections/1/saved_model.pb",
                                  "serving/sections/2/saved_model.pb"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_OUTPUTS))
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KC_NOTEBOOK_STEPS", "6")
    monkeypatch.setenv("KC_NOTEBOOK_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    notebook = nbformat.read(os.path.join(ROOT, "notebooks", name), as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    for output in EXPECTED_OUTPUTS[name]:
        assert os.path.exists(tmp_path / "run" / output), output
