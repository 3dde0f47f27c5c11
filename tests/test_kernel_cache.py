"""The compiled-kernel cache follows the code the kernels depend on (ketasim.kernel_cache)."""

from __future__ import annotations

import re
import shutil
import sys

import numba

from ketasim import kernel_cache as kc


def test_cache_directory_is_keyed_by_the_kernel_code():
    import ketasim.signalling.cascade  # noqa: F401  (defines kernels, so configure() has run)

    extra = f"numba {numba.__version__}; python {sys.version}"
    expected = kc.source_digest(kc.kernel_sources(), extra)
    assert numba.config.CACHE_DIR.endswith(expected)
    assert kc.configure() == numba.config.CACHE_DIR


def test_kernel_sources_follow_imports():
    """A kernel calling a jitted function of another module (cascade -> spines.turnover) and freezing
    constants of imported modules: those modules are part of the key."""
    names = {str(p.relative_to(kc.PACKAGE_ROOT)) for p in kc.kernel_sources()}
    assert {"signalling/cascade.py", "structure/spines.py", "engine/cascade_solver.py"} <= names
    assert {"targets/receptor_data.py", "targets/nmda_reduced.py"} <= names  # imported by patient_block
    assert "report/potency.py" not in names  # no kernel depends on it


def test_every_kernel_module_configures_the_cache_first():
    for path in kc.PACKAGE_ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        first = re.search(r"^@(numba\.)?njit\(.*cache=True", text, re.M)
        if first is None:
            continue
        call = re.search(r"^configure\(\)", text, re.M)
        assert call is not None and call.start() < first.start(), f"{path}: configure() before the kernels"


def test_a_change_in_a_dependency_changes_the_key(tmp_path):
    root = tmp_path / "pkg"
    shutil.copytree(kc.PACKAGE_ROOT / "structure", root / "structure")
    files = sorted(root.rglob("*.py"))
    before = kc.source_digest(files)
    spines = root / "structure" / "spines.py"
    spines.write_text(spines.read_text() + "\n# an edit\n")
    assert kc.source_digest(files) != before
    assert kc.source_digest(files, "numba 0") != kc.source_digest(files, "numba 1")
