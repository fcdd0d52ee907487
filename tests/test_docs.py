"""The documentation builds: `mkdocs build --strict` on docs/ and mkdocs.yml.

Strict mode turns every warning into a failure: a link to a missing page or
anchor, a snippet whose README section is gone, an API page whose module
moved, a docstring mkdocstrings cannot render. The site goes to a temporary
folder; nothing in the checkout is written.
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "site"
    for page in ("index.html", "main-job/index.html", "robustness/index.html",
                 "how-to/add-task-kind/index.html", "api/index.html",
                 "api/distill/index.html"):
        assert (site / page).is_file(), page
    # The robustness page shows the README's Guarantees text, not a marker.
    robustness = (site / "robustness/index.html").read_text(encoding="utf-8")
    assert "Concurrent exports." in robustness and "--8&lt;--" not in robustness
    # API pages come from the docstrings.
    distill = (site / "api/distill/index.html").read_text(encoding="utf-8")
    assert "LOSS_TABLE" in distill and "DistillationTerm" in distill
