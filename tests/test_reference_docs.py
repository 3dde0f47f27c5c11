"""The generated reference docs (docs/cards/*.md, docs/parameters.md) match the data files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ketasim import docs_gen
from ketasim.toml_io import read_toml

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "regenerate: python -m ketasim.docs_gen (from the repository root)"


def test_committed_reference_docs_are_current(tmp_path):
    written = docs_gen.write_docs(tmp_path)
    committed_cards = sorted(p.name for p in (ROOT / "docs" / "cards").glob("*.md"))
    assert committed_cards == sorted(p.name for p in (tmp_path / "cards").glob("*.md")), REGENERATE
    for path in written:
        rel = path.relative_to(tmp_path)
        assert (ROOT / "docs" / rel).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"docs/{rel} is stale; {REGENERATE}"
        )


def test_every_data_file_belongs_to_a_scale_or_a_catalogue():
    assert docs_gen.unassigned_files() == [], "add the file to ketasim.docs_gen.SCALES"


def test_parameters_page_lists_every_parameter_table():
    text = (ROOT / "docs" / "parameters.md").read_text(encoding="utf-8")
    for _, _, files in docs_gen.scale_files():
        for path in files:
            entries = list(docs_gen.iter_parameters(read_toml(path, path.name)))
            section = text.split(f"### `{path.relative_to(docs_gen.DATA).as_posix()}`", 1)[1].split(
                "\n### ", 1
            )[0]
            assert all(f"| `{e.name}`" in section for e in entries), path.name


def test_stale_cards_are_removed(tmp_path):
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "no-such-compound.md").write_text("old\n")
    docs_gen.write_docs(tmp_path)
    assert not (tmp_path / "cards" / "no-such-compound.md").exists()


def test_citation_and_changelog_name_the_package_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^cff-version: 1\.2\.0$", cff, re.M)
    assert re.search(rf'^version: "?{re.escape(version)}"?$', cff, re.M), "update version in CITATION.cff"
    for key in ("message", "title", "authors", "license", "date-released"):
        assert re.search(rf"^{key}:", cff, re.M), key
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{version}]" in changelog or "## [Unreleased]" in changelog
