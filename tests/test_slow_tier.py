"""Every entry of the slow tier names a test that exists."""

import os
import subprocess
import sys

from tests.slow_tier import SLOW_TIER

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_slow_tier_names_real_tests():
    files = sorted({name.partition("::")[0] for name in SLOW_TIER})
    missing = [f for f in files if not os.path.exists(os.path.join(ROOT, f))]
    assert not missing, f"tests/slow_tier.py names missing files: {missing}"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "--collect-only",
                          "-p", "no:xdist", "-p", "no:cacheprovider", *files],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    collected = {line.strip() for line in run.stdout.splitlines() if "::" in line}
    unknown = sorted(SLOW_TIER - collected)
    assert not unknown, f"tests/slow_tier.py names tests that do not exist: {unknown}"
