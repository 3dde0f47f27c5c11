"""The documentation site builds with warnings as errors, and every tutorial runs.

``mkdocs build --strict`` (docs/decisions/0011-docs-site.md) executes the tutorials' code blocks
(markdown-exec): an exception in a tutorial, a broken link between pages or a missing page in the
navigation is a warning, and ``--strict`` turns it into a failed build. The build takes about a
minute, most of it the tutorials' simulations.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDED = ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "markdown_exec", "pymdownx")


def _missing() -> list[str]:
    import importlib.util

    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node] if node.endswith(".md") else []
    if isinstance(node, dict):
        return [p for v in node.values() for p in _nav_pages(v)]
    if isinstance(node, list):
        return [p for v in node for p in _nav_pages(v)]
    return []


def test_every_page_in_the_navigation_exists():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = _nav_pages(config["nav"])
    assert len(pages) > 20
    missing = [p for p in pages if not (ROOT / "docs" / p).is_file()]
    assert missing == [], f"pages in mkdocs.yml nav that do not exist: {missing}"
    tutorials = {p.name for p in (ROOT / "docs" / "tutorials").glob("*.md")}
    assert tutorials <= {Path(p).name for p in pages}, "add every tutorial to the nav of mkdocs.yml"


def test_docs_build_strict_with_tutorials(tmp_path):
    missing = _missing()
    assert not missing, (
        f"the docs build needs {', '.join(missing)}: pip install mkdocs mkdocstrings[python] markdown-exec "
        "pymdown-extensions"
    )
    env = {**os.environ, "MPLBACKEND": "Agg", "NO_COLOR": "1"}
    site = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}"
    problems = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert problems == [], "\n".join(problems)
    for page in ("regimens", "hypotheses", "trial-power", "drug-design", "your-data"):
        html = (site / "tutorials" / page / "index.html").read_text(encoding="utf-8")
        assert "<table" in html, f"tutorial {page} printed no table"
        assert "Traceback" not in html, page
    methods = (site / "methods" / "index.html").read_text(encoding="utf-8")
    assert methods.count('class="arithmatex"') >= 40  # equations rendered as maths
    api = (site / "api" / "pk" / "index.html").read_text(encoding="utf-8")
    assert "build_model" in api and "Assemble the PK system" in api  # docstrings rendered
