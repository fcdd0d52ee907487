"""The notebooks run top to bottom (shortened by environment variables)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(__file__))


@pytest.mark.parametrize("name", ["01_pretrain_albert.ipynb"])
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
    assert os.path.exists(tmp_path / "run" / "curves.png")
    assert os.path.exists(tmp_path / "run" / "pretrainer.keras")
