"""Generated reference documentation: a model card per compound and a table of every parameter.

Run from the repository root::

    python -m ketasim.docs_gen            # writes docs/cards/*.md, docs/parameters.md and docs/methods.md
    python -m ketasim.docs_gen --out DIR  # somewhere else

Both are built from the packaged data files only (not from $KETASIM_COMPOUNDS), so they cannot
drift from the data: a test regenerates them into a temporary directory and compares them with the
committed files. ``parameters.md`` lists every parameter table ``{value, unit, source, status}`` of
every packaged data file, grouped by the scale it belongs to, with the calibration data of fitted
values; values and units are shown as written in the files.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ketasim.compounds import DATA_DIR, Library, load_file
from ketasim.model_card import card
from ketasim.model_card_render import to_markdown
from ketasim.toml_io import read_toml

DATA = Path(__file__).parent / "data"
STATUSES = ("measured", "derived", "fitted", "assumed")

# (scale, what its files hold, file patterns relative to data/), in the order data flows down the model
SCALES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Physiology",
        "Reference body, liver blood flow, compartment pH, membrane exchange rates and enzyme activity by "
        "genotype, per species (dosing, PK, brain and cell scales).",
        ("physiology.toml", "physiology_mouse.toml", "physiology_rat.toml"),
    ),
    (
        "Compounds",
        "One file per compound: physicochemistry, PK by species, absorption by route, brain exchange, "
        "NMDA receptor block and other targets (PK, brain and target scales).",
        ("compounds/*.toml",),
    ),
    (
        "Targets",
        "Drug-independent NMDA receptor gating, Mg2+ block and drug access; NMDA receptor make-up of the "
        "prefrontal cell types; the catalogue of target names.",
        ("targets.toml", "nmda_receptors.toml", "cell_types.toml"),
    ),
    ("Circuit", "Prefrontal rate model of pyramidal cells and PV/SST interneurons.", ("circuit.toml",)),
    (
        "Signalling",
        "eEF2K, BDNF, TrkB, mTORC1, GSK3, synaptic protein and AMPA insertion.",
        ("signalling.toml",),
    ),
    ("Structure", "Spine formation and elimination, healthy and depressed.", ("spines.toml",)),
    ("Clinical", "Depression score, placebo, dissociation and blood pressure.", ("clinical.toml",)),
    ("Mechanisms", "Gains of the hypothesis switches.", ("mechanisms.toml",)),
    ("Perturbations", "Knockouts, knock-ins and co-drugs as parameter changes.", ("perturbations.toml",)),
    ("Population", "Covariate distributions and between-patient variability.", ("populations/*.toml",)),
)
# Files that hold no model parameters: catalogues of published checks the model is judged against
# (docs/validation/) and the ranges explored by analyses (low/high per parameter, ketasim.sensitivity).
CATALOGUES = ("findings/*.toml", "validation/*.toml")
ANALYSES = ("sensitivity.toml",)
CONTEXT_KEYS = ("organ", "enzyme", "product", "kind", "action", "family", "species", "bound")


@dataclass(frozen=True)
class Entry:
    """One parameter table of a data file: its dotted name, the raw table and a short context."""

    name: str
    table: Mapping[str, Any]
    context: str = ""


def iter_parameters(data: Any, prefix: str = "") -> Iterator[Entry]:
    """Every table with a ``value`` key in parsed TOML ``data``, depth first in file order."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield from iter_parameters(item, f"{prefix}[{i}]")
        return
    if not isinstance(data, dict):
        return
    context = ", ".join(f"{k} {data[k]}" for k in CONTEXT_KEYS if isinstance(data.get(k), str))
    for key, item in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and "value" in item:
            yield Entry(name, item, context)
        else:
            yield from iter_parameters(item, name)


def scale_files(data_dir: Path = DATA) -> list[tuple[str, str, list[Path]]]:
    """The data files of each scale, in :data:`SCALES` order."""
    return [
        (scale, what, [p for pattern in patterns for p in sorted(data_dir.glob(pattern))])
        for scale, what, patterns in SCALES
    ]


def unassigned_files(data_dir: Path = DATA) -> list[Path]:
    """Data files that belong to no scale and no catalogue (a new file must be placed in SCALES)."""
    known = {p for _, _, files in scale_files(data_dir) for p in files}
    known |= {p for pattern in (*CATALOGUES, *ANALYSES) for p in data_dir.glob(pattern)}
    return sorted(p for p in data_dir.rglob("*.toml") if p not in known)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _header_comment(path: Path) -> list[str]:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" ").rstrip())
    return lines


def _table(entries: list[Entry]) -> list[str]:
    lines = [
        "| Parameter | Value | Unit | Status | Source | Calibration data |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        t = e.table
        name = f"`{e.name}`" + (f" ({_cell(e.context)})" if e.context else "")
        source = _cell(t.get("source", "")) + (f"<br>*Note:* {_cell(t['note'])}" if t.get("note") else "")
        calibration = _cell(t.get("calibration", "")) if t.get("status") == "fitted" else ""
        unit = _cell(t.get("unit", "")) or "-"
        lines.append(
            f"| {name} | {t.get('value')} | {unit} | {t.get('status', '')} | {source} | {calibration} |"
        )
    return lines


def file_section(
    path: Path, data_dir: Path = DATA, compounds: Mapping[str, str] | None = None, level: int = 3
) -> list[str]:
    """Markdown lines of one data file: a heading of ``level``, its header comment and its parameter table.

    ``compounds`` maps compound ids to names for the titles of compound files."""
    compounds = compounds or {}
    rel = path.relative_to(data_dir).as_posix()
    data = read_toml(path, rel)
    entries = list(iter_parameters(data))
    title = f"{'#' * level} `{rel}`"
    if rel.startswith("compounds/"):
        cid = path.stem
        title += f": {compounds.get(cid, cid)} ([model card](cards/{cid}.md))"
    lines = [title, ""]
    header = _header_comment(path)
    if header:
        lines += ["```text", *header, "```", ""]
    if not entries:
        return [*lines, "No numeric parameters in this file.", ""]
    return [*lines, *_table(entries), ""]


def _summary(groups: list[tuple[str, str, list[Path]]], data_dir: Path) -> list[str]:
    lines = [
        "| Scale | Files | Parameters | " + " | ".join(STATUSES) + " |",
        "|---|---|---|" + "---|" * len(STATUSES),
    ]
    total: Counter[str] = Counter()
    for scale, _, files in groups:
        counts: Counter[str] = Counter()
        for path in files:
            for e in iter_parameters(read_toml(path, path.name)):
                counts[str(e.table.get("status"))] += 1
        total.update(counts)
        n = sum(counts.values())
        cells = " | ".join(str(counts[s]) for s in STATUSES)
        lines.append(f"| [{scale}](#{scale.lower()}) | {len(files)} | {n} | {cells} |")
    cells = " | ".join(str(total[s]) for s in STATUSES)
    lines.append(f"| **all** | {sum(len(f) for _, _, f in groups)} | {sum(total.values())} | {cells} |")
    return lines


def parameters_markdown(data_dir: Path = DATA) -> str:
    """``docs/parameters.md``: every parameter of every packaged data file, grouped by scale."""
    groups = scale_files(data_dir)
    compounds = {
        p.stem: str(read_toml(p, p.name).get("name", p.stem)) for p in data_dir.glob("compounds/*.toml")
    }
    lines = [
        "# Parameters",
        "",
        "Every parameter of every packaged data file (`src/ketasim/data/`), grouped by the scale it "
        "belongs to. Generated by `python -m ketasim.docs_gen`; do not edit by hand (a test fails when "
        "this file is stale).",
        "",
        "Values and units are as written in the data files; the model converts each once to its canonical "
        "unit (h, µmol, L, µM, mV). Status: measured (reported in a primary source), derived (calculated "
        "from reported values), fitted (estimated by fitting to the named calibration data, which are then "
        "not used to judge the fit) or assumed (a modelling choice). An empty unit means dimensionless. "
        "Not listed, as they hold no model parameters: the catalogues of published findings the model is "
        "judged against (`findings/`, `validation/`; see `docs/validation/`) and the ranges explored by "
        "the sensitivity analysis. Each compound also has a model card in `docs/cards/` "
        "(`ketasim card COMPOUND`).",
        "",
        "## Summary",
        "",
        *_summary(groups, data_dir),
        "",
    ]
    for scale, what, files in groups:
        lines += [f"## {scale}", "", what, ""]
        for path in files:
            lines += file_section(path, data_dir, compounds)
    return "\n".join(lines).rstrip() + "\n"


def packaged_library() -> Library:
    """The compounds shipped with the package only (ignores $KETASIM_COMPOUNDS)."""
    return Library({c.id: c for c in (load_file(p) for p in sorted(DATA_DIR.glob("*.toml")))})


def cards_index(lib: Library) -> str:
    """``cards/index.md``: one line per packaged compound, linking its model card."""
    lines = [
        "# Model cards",
        "",
        "One card per packaged compound (`ketasim card COMPOUND`): properties, PK, targets and NMDA block "
        "kinetics with their sources and status. Generated by `python -m ketasim.docs_gen`.",
        "",
        "| Compound | Card |",
        "|---|---|",
    ]
    lines += [f"| {_cell(lib.get(cid).name)} | [{cid}]({cid}.md) |" for cid in lib.names()]
    return "\n".join(lines) + "\n"


def write_docs(out: str | Path) -> list[Path]:
    """Write ``cards/<compound>.md`` for every packaged compound, ``cards/index.md`` and ``parameters.md``
    under ``out``.

    Card files of compounds that no longer exist are removed. Returns the paths written.
    """
    out = Path(out)
    cards_dir = out / "cards"
    cards_dir.mkdir(parents=True, exist_ok=True)
    lib = packaged_library()
    written = []
    for cid in lib.names():
        path = cards_dir / f"{cid}.md"
        path.write_text(to_markdown(card(cid, lib)), encoding="utf-8")
        written.append(path)
    index = cards_dir / "index.md"
    index.write_text(cards_index(lib), encoding="utf-8")
    written.append(index)
    for stale in set(cards_dir.glob("*.md")) - set(written):
        stale.unlink()
    path = out / "parameters.md"
    path.write_text(parameters_markdown(), encoding="utf-8")
    return [*written, path]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ketasim.docs_gen``."""
    p = argparse.ArgumentParser(prog="python -m ketasim.docs_gen", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs", help="documentation directory (default: ./docs)")
    args = p.parse_args(argv)
    paths = write_docs(args.out)
    from ketasim.methods_doc import write_methods  # it builds on this module

    paths.append(write_methods(Path(args.out) / "methods.md"))
    print(f"wrote {len(paths)} files under {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
