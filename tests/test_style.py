"""The code base is ruff clean (the lint runs as part of the test command)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed; install the test extra: pip install -e '.[test]'")
    p = subprocess.run(
        [ruff, "check", "--quiet", str(ROOT / "src"), str(ROOT / "tests")], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stdout + p.stderr
