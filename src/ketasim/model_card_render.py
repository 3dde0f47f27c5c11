"""Model cards (:mod:`ketasim.model_card`) as plain text, Markdown and JSON.

The Markdown form is what ``docs/cards/<compound>.md`` holds (written by :mod:`ketasim.docs_gen`);
the JSON form is one document that :meth:`ketasim.model_card.Card.from_dict` reads back.
"""

from __future__ import annotations

import json

from ketasim import __version__
from ketasim.model_card import Card, Row, Section

STATUS_NOTE = (
    "Status: measured (reported in a primary source), derived (calculated from reported values), "
    "fitted (estimated by fitting to the named calibration data) or assumed (a modelling choice). "
    "Values are in the model's units; where the data file uses another unit the value as written is "
    "given too. Rows marked *computed* are calculated for the card from the parameters above them."
)


def _bounded(r: Row) -> str:
    """The row's value, with "≥" when it is a lower bound (``bound = "lower"`` on a target record)."""
    return ("≥ " if r.detail.get("bound") == "lower" else "") + _num(r.value)


def to_json(card: Card) -> str:
    """One JSON document (strict: no NaN or infinity)."""
    return json.dumps({**card.as_dict(), "ketasim_version": __version__}, indent=2, allow_nan=False)


def _num(value: float) -> str:
    return f"{value:.6g}"


# ---- Markdown -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _md_source(row: Row) -> str:
    parts = [_cell(row.source)]
    if row.calibration:
        parts.append(f"*Calibration:* {_cell(row.calibration)}")
    if row.note:
        parts.append(f"*Note:* {_cell(row.note)}")
    if row.detail.get("caveat"):
        parts.append(f"*Target caveat:* {_cell(row.detail['caveat'])}")
    return "<br>".join(parts)


def _md_section(section: Section, level: str) -> list[str]:
    lines = [f"{level} {section.title}", ""]
    if section.note:
        lines += [section.note, ""]
    if not section.rows:
        return lines
    lines += ["| Parameter | Value | Unit | Status | Source |", "|---|---|---|---|---|"]
    for r in section.rows:
        name = f"`{r.key}`<br>{_cell(r.label)}" + (" *(computed)*" if r.computed else "")
        value = _bounded(r) + (f"<br>(file: {_cell(r.as_written)})" if r.as_written else "")
        lines.append(f"| {name} | {value} | {_cell(r.unit) or '-'} | {r.status} | {_md_source(r)} |")
    return [*lines, ""]


def _md_facts(card: Card) -> list[str]:
    if card.kind == "mixture":
        parts = ", ".join(f"[{k}]({k}.md) {v:g}" for k, v in card.facts["components"].items())
        head = f"`{card.id}`: mixture of {parts} (mole fractions)"
    else:
        f = card.facts
        head = (
            f"`{card.id}`: single species; analyte {f['analyte']} (group {f['group']}); "
            f"ionization {f['ionization']}"
        )
        if f.get("other_species"):
            head += "; also parameterised for " + ", ".join(f["other_species"])
    lines = [head + "  ", f"Aliases: {', '.join(card.aliases) or '-'}  ", f"Data file: `{card.file}`", ""]
    if card.description:
        lines += [card.description, ""]
    return lines


def _md_metabolites(card: Card, level: str) -> list[str]:
    if card.kind != "species":
        return []
    lines = [f"{level} Metabolites formed", ""]
    if not card.metabolites:
        return [*lines, "None simulated: no elimination pathway forms another species in the library.", ""]
    lines += ["| Metabolite | Pathways | Clearance | Fraction of clearance |", "|---|---|---|---|"]
    for m in card.metabolites:
        lines.append(
            f"| [{m['id']}]({m['id']}.md) ({m['analyte']}) | {', '.join(m['pathways'])} | "
            f"{_num(m['clearance'])} {m['unit']} | {m['fraction_of_clearance']:.3f} |"
        )
    return [*lines, ""]


def _md_body(card: Card, level: str) -> list[str]:
    lines: list[str] = []
    for s in card.sections:
        lines += _md_section(s, level)
        if s.title == "Elimination by pathway":  # the reference (human) disposition
            lines += _md_metabolites(card, level)
    for c in card.parts:
        lines += [f"{level} Component `{c.id}`: {c.name}", "", *_md_facts(c), *_md_body(c, level + "#")]
    return lines


def to_markdown(card: Card) -> str:
    """The card as a Markdown document."""
    lines = [
        f"# {card.name}: model card",
        "",
        *_md_facts(card),
        f"Generated from the data files by `ketasim card {card.id} --markdown`; do not edit by hand.",
        "",
        STATUS_NOTE,
        "",
        *_md_body(card, "##"),
    ]
    return "\n".join(lines).rstrip() + "\n"


# ---- plain text -----------------------------------------------------------------------------------


def _text_facts(card: Card) -> list[str]:
    if card.kind == "mixture":
        what = "mixture of " + ", ".join(f"{k} {v:g}" for k, v in card.facts["components"].items())
    else:
        f = card.facts
        what = f"analyte {f['analyte']}, group {f['group']}, ionization {f['ionization']}"
    lines = [f"{card.id}: {card.name}", f"  {what}", f"  aliases: {', '.join(card.aliases) or '-'}"]
    lines.append(f"  file: {card.file}")
    if card.description:
        lines.append(f"  {card.description}")
    return lines


def _text_section(section: Section, width: int) -> list[str]:
    lines = ["", section.title]
    if section.note:
        lines.append(f"  ({section.note})")
    pad = " " * (width + 32)
    for r in section.rows:
        written = f" [file: {r.as_written}]" if r.as_written else ""
        mark = " (computed)" if r.computed else ""
        value = f"{r.key:<{width}}{_bounded(r):>12} {r.unit or '-':<9}{r.status:<9}"
        lines.append(f"  {value}{r.label}{mark}{written}. {r.source}")
        if r.calibration:
            lines.append(f"  {pad}calibration: {r.calibration}")
    return lines


def _text_metabolites(card: Card, width: int) -> list[str]:
    lines = ["", "Metabolites formed"]
    for m in card.metabolites:
        share = f"{m['fraction_of_clearance']:>12.3f}"
        lines.append(f"  {m['id']:<{width}}{share} of clearance via {', '.join(m['pathways'])}")
    if not card.metabolites:
        lines.append("  none simulated")
    return lines


def _text_body(card: Card) -> list[str]:
    width = max((len(r.key) for r in card.rows()), default=20) + 2
    lines = _text_facts(card)
    for s in card.sections:
        lines += _text_section(s, width)
        if s.title == "Elimination by pathway":
            lines += _text_metabolites(card, width)
    for c in card.parts:
        lines += ["", "=" * 100, *_text_body(c)]
    return lines


def to_text(card: Card) -> str:
    """The card as a plain-text listing (the default output of ``ketasim card``)."""
    return "\n".join(_text_body(card)) + "\n"
