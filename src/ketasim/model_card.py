"""Model cards: every parameter of a compound with its unit, source and status, for review.

A card reads like an nlmixr2lib model file: who the compound is (molecular weight, pKa, logP,
binding), then its pharmacokinetics (volumes, clearance by pathway and enzyme, absorption by route,
metabolites formed), its brain and cell partition, its NMDA receptor block and its other targets.
Each row is either a parameter of the compound file (its value in the model's canonical unit, the
value as written in the file when that unit differs, source, status and, for fitted values, the
data it was fitted to) or a quantity computed here from such parameters. A computed row says how
it was computed; its status is the weakest of its inputs' (any assumed input makes it assumed, any
fitted input makes it fitted to that input's data, otherwise derived). Nothing is simulated.

Rendering to text, Markdown and JSON lives in :mod:`ketasim.model_card_render`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ketasim.brain.partition import log_d, neutral_fraction, trapping_ratio
from ketasim.compounds import (
    DATA_DIR,
    Elimination,
    Library,
    Mixture,
    Species,
    default_library,
    parse_compound,
    target_names,
)
from ketasim.physiology import Physiology, default_physiology
from ketasim.provenance import Param, Status

PROPERTY_LABELS = {
    "mw": "Molecular weight (free base)",
    "pka": "pKa of the ionisable group",
    "logp": "logP, octanol/water, neutral species",
    "fu": "Unbound fraction in plasma",
    "blood_plasma_ratio": "Blood/plasma concentration ratio",
}
PK_LABELS = {
    "v1": "Central volume",
    "q2": "Intercompartmental clearance, first peripheral compartment",
    "v2": "Volume of the first peripheral compartment",
    "q3": "Intercompartmental clearance, second peripheral compartment",
    "v3": "Volume of the second peripheral compartment",
}
ROUTE_LABELS = {
    "oral": "Oral",
    "intranasal": "Intranasal",
    "sublingual": "Sublingual",
    "im": "Intramuscular",
    "ip": "Intraperitoneal",
}
ABSORPTION_LABELS = {
    "ka": "first-order absorption rate",
    "fa": "fraction crossing the gut wall",
    "fg": "fraction escaping gut-wall metabolism",
    "f_nasal": "fraction absorbed through the nasal mucosa (the rest is swallowed)",
    "ka_nasal": "nasal absorption rate",
    "f_mucosal": "fraction absorbed through the oral mucosa (the rest is swallowed)",
    "ka_mucosal": "mucosal absorption rate",
    "f": "fraction of the injected dose reaching the circulation",
    "f_portal": "fraction absorbed into the portal vein (subject to hepatic first pass)",
}
BRAIN_LABELS = {
    "k_bbb": "Exchange rate, unbound plasma and brain ECF (neutral species)",
    "k_cell": "Exchange rate, brain ECF and cytosol (neutral species)",
    "k_lysosome": "Exchange rate, cytosol and lysosomes (neutral species)",
    "lysosome_volume_fraction": "Lysosomal share of cell volume",
}
NMDA_LABELS = {
    "kd": "Kd of the deep (trapping) pore site at v_ref, GluN2A",
    "v_ref": "Membrane potential at which kd and koff hold",
    "koff": "Unbinding rate from the deep pore site at v_ref",
    "delta": "Woodhull electrical distance of the deep site",
    "superficial_kd": "Kd of the superficial (non-trapping) pore site, GluN2A",
    "superficial_koff": "Unbinding rate from the superficial site",
    "kd_factor_2b": "Pore-site Kd at GluN2B relative to GluN2A",
    "kd_factor_2c": "Pore-site Kd at GluN2C relative to GluN2A",
    "kd_factor_2d": "Pore-site Kd at GluN2D relative to GluN2A",
    "nam_kd": "GluN2B negative allosteric modulator: Kd",
    "nam_efficacy": "GluN2B negative allosteric modulator: fractional loss of opening rate",
    "nam_koff": "GluN2B negative allosteric modulator: unbinding rate",
}
TARGET_LABELS = {
    "affinity": "",
    "hill": "Hill coefficient",
    "emax": "maximal effect (fraction)",
}
AFFINITY_LABELS = {"ki": "Ki", "kd": "Kd", "ic50": "IC50", "ec50": "EC50"}
SUBUNIT_FACTORS = (("GluN2B", "kd_factor_2b"), ("GluN2C", "kd_factor_2c"), ("GluN2D", "kd_factor_2d"))
EXTRACELLULAR_PH = 7.4  # pH at which closed-state access is computed (ketasim.targets.nmda_kinetics)


@dataclass(frozen=True)
class Row:
    """One parameter (or computed quantity) of a card, in the model's canonical unit."""

    key: str
    label: str
    value: float
    unit: str
    source: str
    status: str
    calibration: str | None = None
    note: str | None = None
    as_written: str | None = None
    computed: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON; optional fields appear only when set."""
        out: dict[str, Any] = {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "status": self.status,
            "computed": self.computed,
        }
        for name in ("calibration", "note", "as_written"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.detail:
            out["detail"] = dict(self.detail)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Row:
        return cls(
            key=d["key"],
            label=d["label"],
            value=d["value"],
            unit=d["unit"],
            source=d["source"],
            status=d["status"],
            calibration=d.get("calibration"),
            note=d.get("note"),
            as_written=d.get("as_written"),
            computed=d["computed"],
            detail=dict(d.get("detail", {})),
        )


@dataclass(frozen=True)
class Section:
    """A titled group of rows; ``note`` explains an empty or unusual section."""

    title: str
    rows: tuple[Row, ...]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "note": self.note, "parameters": [r.as_dict() for r in self.rows]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Section:
        return cls(d["title"], tuple(Row.from_dict(r) for r in d["parameters"]), d["note"])


@dataclass(frozen=True)
class Card:
    """The model card of one compound; a mixture's card holds a card per component."""

    id: str
    name: str
    kind: str  # "species" or "mixture"
    aliases: tuple[str, ...]
    description: str
    file: str
    facts: Mapping[str, Any]
    sections: tuple[Section, ...]
    metabolites: tuple[Mapping[str, Any], ...] = ()
    parts: tuple[Card, ...] = ()  # a mixture's component cards

    def rows(self) -> list[Row]:
        """Every row of this card and of its components' cards."""
        out = [r for s in self.sections for r in s.rows]
        for c in self.parts:
            out.extend(c.rows())
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "aliases": list(self.aliases),
            "description": self.description,
            "file": self.file,
            "facts": dict(self.facts),
            "sections": [s.as_dict() for s in self.sections],
            "metabolites": [dict(m) for m in self.metabolites],
            "component_cards": [c.as_dict() for c in self.parts],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Card:
        """Rebuild a card from :meth:`as_dict` output (e.g. ``ketasim card X --json``)."""
        return cls(
            id=d["id"],
            name=d["name"],
            kind=d["kind"],
            aliases=tuple(d["aliases"]),
            description=d["description"],
            file=d["file"],
            facts=dict(d["facts"]),
            sections=tuple(Section.from_dict(s) for s in d["sections"]),
            metabolites=tuple(dict(m) for m in d["metabolites"]),
            parts=tuple(cls.from_dict(c) for c in d["component_cards"]),
        )


def card(name: str, library: Library | None = None, physiology: Physiology | None = None) -> Card:
    """The model card of compound ``name`` (id, alias or analyte; unknown names raise KetasimError)."""
    lib = library or default_library()
    phys = physiology or default_physiology("human")
    return _card(lib.get(name, "compound"), lib, phys)


def _card(compound: Species | Mixture, lib: Library, phys: Physiology) -> Card:
    raw, file = _raw_file(compound)
    common = {
        "id": compound.id,
        "name": compound.name,
        "aliases": tuple(compound.aliases),
        "description": compound.description,
        "file": file,
    }
    if isinstance(compound, Mixture):
        ident = Section(
            "Identity",
            tuple(
                _row(p, f"properties.{k}", PROPERTY_LABELS[k], raw) for k, p in compound.properties.items()
            ),
            "A mixture: doses are split between the components by mole fraction; each component has its "
            "own card below.",
        )
        parts = tuple(_card(lib.compounds[s], lib, phys) for s in compound.components)
        facts = {"components": dict(compound.components)}
        return Card(kind="mixture", facts=facts, sections=(ident,), parts=parts, **common)
    facts = {"analyte": compound.analyte, "group": compound.group, "ionization": compound.ionization}
    if compound.overrides:
        facts["other_species"] = sorted(compound.overrides)
    return Card(
        kind="species",
        facts=facts,
        sections=tuple(_species_sections(compound, raw, phys)),
        metabolites=tuple(_metabolites(compound, lib)),
        **common,
    )


# ---- rows -----------------------------------------------------------------------------------------


def _row(p: Param, key: str, label: str, raw: Mapping | None, **detail: Any) -> Row:
    return Row(
        key=key,
        label=label,
        value=p.value,
        unit=p.unit,
        source=p.source,
        status=p.status.value,
        calibration=p.calibration,
        note=p.note,
        as_written=_as_written(raw, key, p.unit),
        detail={k: v for k, v in detail.items() if v is not None},
    )


def _computed(
    key: str,
    label: str,
    value: float,
    unit: str,
    how: str,
    inputs: Iterable[Param],
    assumption: bool = False,
) -> Row:
    """A quantity computed for the card from ``inputs``; its status is the weakest of theirs.

    ``assumption`` marks a computation that itself rests on a modelling assumption (status assumed).
    """
    inputs = list(inputs)
    statuses = {p.status for p in inputs}
    calibration = None
    if assumption or Status.ASSUMED in statuses:
        status = Status.ASSUMED
    elif Status.FITTED in statuses:
        status = Status.FITTED
        calibration = "; ".join(dict.fromkeys(p.calibration for p in inputs if p.calibration))
    else:
        status = Status.DERIVED
    return Row(
        key=key,
        label=label,
        value=value,
        unit=unit,
        source=f"Computed for this card: {how}",
        status=status.value,
        calibration=calibration,
        computed=True,
    )


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _as_written(raw: Mapping | None, key: str, unit: str) -> str | None:
    """``"value unit"`` as written in the data file, when the file's unit differs from the model's."""
    node: Any = raw
    for name, index in _TOKEN.findall(key):
        try:
            node = node[int(index)] if index else node[name]
        except (KeyError, IndexError, TypeError):
            return None
    if not isinstance(node, dict) or "value" not in node:
        return None
    written = str(node.get("unit", "")).strip()
    same = {written, unit.strip()} <= {"", "1", "dimensionless"} or written == unit.strip()
    return None if same else f"{node['value']} {written}"


def _raw_file(compound: Species | Mixture) -> tuple[dict | None, str]:
    """The parsed TOML the compound was loaded from (searched as :func:`load_library` does) and its path."""
    dirs = [DATA_DIR, *(Path(p) for p in os.environ.get("KETASIM_COMPOUNDS", "").split(os.pathsep) if p)]
    for d in reversed(dirs):  # later directories override earlier ones
        path = Path(d) / compound.path
        if not path.is_file():
            continue
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        if data.get("id") == compound.id and parse_compound(data, compound.path) == compound:
            shown = f"ketasim/data/compounds/{path.name}" if d == DATA_DIR else str(path)
            return data, shown
    return None, compound.path


# ---- sections of a species ------------------------------------------------------------------------


def _species_sections(sp: Species, raw: Mapping | None, phys: Physiology) -> list[Section]:
    sections = [_identity(sp, raw, phys)]
    sections += _disposition(sp.pk, sp.elimination, sp.absorption, raw, "", "")
    sections.append(_partition(sp, raw, phys))
    sections.append(_nmda(sp, raw))
    sections.append(_targets(sp, raw))
    for animal in sorted(sp.overrides):
        pk, elimination, absorption = sp.overrides[animal]
        sections += _disposition(pk, elimination, absorption, raw, f"species.{animal}.", f" ({animal})")
    return sections


def _identity(sp: Species, raw: Mapping | None, phys: Physiology) -> Section:
    rows = [_row(p, f"properties.{k}", PROPERTY_LABELS[k], raw) for k, p in sp.properties.items()]
    props = sp.properties
    pka = props["pka"].value if "pka" in props else None
    ph = phys.params["ph.plasma"]
    fn = neutral_fraction(sp.ionization, pka, ph.value)
    note = ""
    inputs = [props["logp"], ph] + ([props["pka"]] if "pka" in props else [])
    if fn > 0:
        rows.append(
            _computed(
                "properties.logd_plasma",
                f"logD at plasma pH {ph.value:g}",
                log_d(props["logp"].value, sp.ionization, pka, ph.value),
                "",
                f"logP + log10(neutral fraction at pH {ph.value:g}), ionization {sp.ionization}",
                inputs,
            )
        )
    else:
        note = "A permanent cation has no neutral species: logD is minus infinity and is not listed."
    return Section("Identity and physicochemistry", tuple(rows), note)


def _disposition(
    pk: Mapping[str, Param],
    elimination: tuple[Elimination, ...],
    absorption: Mapping[str, Mapping[str, Param]],
    raw: Mapping | None,
    prefix: str,
    suffix: str,
) -> list[Section]:
    dist = tuple(_row(p, f"{prefix}pk.{k}", PK_LABELS[k], raw) for k, p in pk.items())
    total = sum(e.cl.value for e in elimination)
    rows = []
    for i, e in enumerate(elimination):
        where = e.organ + (f", {e.enzyme}" if e.enzyme else "")
        label = f"Clearance, {where}" + (f", forms {e.product}" if e.product else "")
        share = e.cl.value / total if total > 0 else 0.0
        rows.append(
            _row(
                e.cl,
                f"{prefix}pk.elimination[{i}].cl",
                label,
                raw,
                organ=e.organ,
                enzyme=e.enzyme,
                product=e.product,
                fraction_of_clearance=share,
            )
        )
    if elimination:
        rows.append(
            _computed(
                f"{prefix}pk.cl_total",
                "Total systemic clearance",
                total,
                elimination[0].cl.unit,
                "sum of the pathway clearances above",
                [e.cl for e in elimination],
            )
        )
    absorbed = tuple(
        _row(p, f"{prefix}absorption.{route}.{k}", f"{ROUTE_LABELS[route]}: {ABSORPTION_LABELS[k]}", raw)
        for route, table in absorption.items()
        for k, p in table.items()
    )
    return [
        Section(f"Distribution{suffix}", dist, _REFERENCE[bool(prefix)]),
        Section(
            f"Elimination by pathway{suffix}",
            tuple(rows),
            "Clearance from plasma; liver pathways also act in first pass (well-stirred liver), so oral "
            "bioavailability is an output, not a parameter.",
        ),
        Section(
            f"Absorption by route{suffix}",
            absorbed,
            "" if absorbed else "No extravascular route: the compound can only be given intravenously.",
        ),
    ]


_REFERENCE = (
    "Reference adult of 70 kg; clearances scale with (W/70)^0.75 and volumes with W/70.",
    "Reference animal of the species' physiology file (data/physiology_<species>.toml).",
)


def _metabolites(sp: Species, lib: Library) -> list[dict[str, Any]]:
    """Species formed from ``sp`` (human disposition), with the share of its clearance that forms each."""
    total = sum(e.cl.value for e in sp.elimination)
    out: dict[str, dict[str, Any]] = {}
    for e in sp.elimination:
        if not e.product:
            continue
        m = out.setdefault(
            e.product,
            {
                "id": e.product,
                "analyte": getattr(lib.compounds.get(e.product), "analyte", e.product),
                "clearance": 0.0,
                "unit": e.cl.unit,
                "pathways": [],
            },
        )
        m["clearance"] += e.cl.value
        m["pathways"].append(e.organ + (f" ({e.enzyme})" if e.enzyme else ""))
    for m in out.values():
        m["fraction_of_clearance"] = m["clearance"] / total if total > 0 else 0.0
    return list(out.values())


def _partition(sp: Species, raw: Mapping | None, phys: Physiology) -> Section:
    rows = []
    for key in ("k_bbb", "k_cell"):
        if key in sp.brain:
            rows.append(_row(sp.brain[key], f"brain.{key}", BRAIN_LABELS[key], raw))
        else:
            p = phys.params[f"cell.{key}"]
            rows.append(_row(p, f"physiology.cell.{key}", BRAIN_LABELS[key] + " (physiology default)", None))
    for key in ("k_lysosome", "lysosome_volume_fraction"):
        p = phys.params[f"cell.{key}"]
        rows.append(
            _row(p, f"physiology.cell.{key}", BRAIN_LABELS[key] + " (physiology, every compound)", None)
        )
    pka_p = sp.properties.get("pka")
    pka = pka_p.value if pka_p else None
    ph = {k: phys.params[f"ph.{k}"] for k in ("plasma", "brain_ecf", "cytosol", "lysosome")}
    pairs = (
        ("ecf_plasma", "Brain ECF / unbound plasma at steady state", "brain_ecf", "plasma"),
        ("cytosol_ecf", "Cytosol / brain ECF at steady state", "cytosol", "brain_ecf"),
        ("lysosome_cytosol", "Lysosome / cytosol at steady state (ion trapping)", "lysosome", "cytosol"),
    )
    for name, label, inside, outside in pairs:
        value = trapping_ratio(sp.ionization, pka, ph[inside].value, ph[outside].value)
        how = (
            f"neutral fraction at pH {ph[outside].value:g} / neutral fraction at pH {ph[inside].value:g} "
            f"(pH partition; ionization {sp.ionization}" + (f", pKa {pka:g})" if pka is not None else ")")
        )
        inputs = [ph[inside], ph[outside]] + ([pka_p] if pka_p else [])
        rows.append(_computed(f"partition.{name}", label, value, "", how, inputs))
    note = (
        "Only the neutral species crosses membranes (ketasim.brain.partition); compartment pH and the "
        "membrane rates not given by the compound file come from data/physiology.toml."
    )
    return Section("Brain and cell partition", tuple(rows), note)


def _nmda(sp: Species, raw: Mapping | None) -> Section:
    rows = [r for r in _target_rows(sp, raw) if r.detail.get("family") == "nmda"]
    n = sp.nmda
    rows += [_row(p, f"nmda.{k}", NMDA_LABELS[k], raw) for k, p in n.items()]
    if "kd" in n:
        unit = n["kd"].unit
        for subunit, key in SUBUNIT_FACTORS:
            given = key in n
            value = n["kd"].value * (n[key].value if given else 1.0)
            inputs = [n["kd"], n[key]] if given else [n["kd"]]
            how = f"kd x {key}" if given else f"kd (no {key} given: the model assumes the GluN2A value)"
            label = f"Deep-site Kd at v_ref, {subunit}"
            rows.append(_computed(f"nmda.kd_{subunit}", label, value, unit, how, inputs, not given))
        rows.append(_closed_access(sp))
    if not rows:
        return Section(
            "NMDA receptor block",
            (),
            "No NMDA receptor parameters: the compound does not act at NMDA receptors.",
        )
    note = (
        "Pore block: a deep site that traps the drug when the channel closes (kd, koff, delta) and, where "
        "given, a superficial site that does not; GluN2B negative allosteric modulators act through nam_*. "
        "See docs/decisions/0004-nmda-receptor.md."
    )
    return Section("NMDA receptor block", tuple(rows), note)


def _closed_access(sp: Species) -> Row:
    from ketasim.targets.receptor_data import receptor_data

    access = receptor_data().params["nmda.drug.membrane_access"]
    pka_p = sp.properties.get("pka")
    fn = neutral_fraction(sp.ionization, pka_p.value if pka_p else None, EXTRACELLULAR_PH)
    return _computed(
        "nmda.closed_state_access",
        "Closed-state (membrane) access to the deep site",
        access.value * fn,
        "",
        f"membrane_access ({access.value:g}, data/nmda_receptors.toml) x neutral fraction at pH "
        f"{EXTRACELLULAR_PH:g} ({fn:.4g})",
        [access] + ([pka_p] if pka_p else []),
    )


def _target_rows(sp: Species, raw: Mapping | None) -> list[Row]:
    known = target_names()
    rows = []
    for name, t in sp.targets.items():
        info = known.get(name, {})
        what = f"{AFFINITY_LABELS[t.kind]} at {info.get('label', name)}" + (
            f" ({t.action})" if t.action else ""
        )
        for k, p in t.params.items():
            label = what if k == "affinity" else f"{what}: {TARGET_LABELS[k]}"
            rows.append(
                _row(
                    p,
                    f"targets.{name}.{k}",
                    label,
                    raw,
                    target=name,
                    kind=t.kind,
                    action=t.action or None,
                    readout=info.get("readout"),
                    family=info.get("family"),
                    caveat=info.get("caveat"),
                    bound=t.bound if k == "affinity" else None,
                )
            )
    return rows


def _targets(sp: Species, raw: Mapping | None) -> Section:
    rows = tuple(r for r in _target_rows(sp, raw) if r.detail.get("family") != "nmda")
    note = (
        "Off-target and allosteric affinities; occupancy is computed from the unbound concentration at "
        "the target's site (brain ECF, or lysosome for lysosomal_mtor). Target caveats: data/targets.toml."
        if rows
        else "No other targets in the compound file."
    )
    return Section("Other targets (off-target and allosteric)", rows, note)
