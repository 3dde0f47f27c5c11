"""The compound library: one TOML file per compound, loaded and checked.

A compound is either a :class:`Species` (one molecular entity with its own properties and
disposition) or a :class:`Mixture` of species (a racemate). The file format is described in
``docs/compound_files.md``. Every numeric field is converted to its canonical unit and checked
against a plausible range; any problem raises :class:`KetasimError` naming the file and the field.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ketasim import units
from ketasim.errors import KetasimError, unknown_choice
from ketasim.provenance import Param, read_param_fields

DATA_DIR = Path(__file__).parent / "data" / "compounds"

IONIZATION = ("base", "acid", "neutral", "permanent_cation")
ORGANS = ("liver", "kidney", "other")
ROUTES = ("iv", "im", "intranasal", "oral", "sublingual", "ip")
SPECIES = ("human", "mouse", "rat")

# field -> (kind of unit, lowest, highest, required)
_PROPERTIES: dict[str, tuple[str, float, float, bool]] = {
    "mw": ("molar_mass", 30.0, 3000.0, True),
    "pka": ("dimensionless", -2.0, 16.0, False),
    "logp": ("dimensionless", -6.0, 10.0, True),
    "fu": ("dimensionless", 1e-4, 1.0, True),
    "blood_plasma_ratio": ("dimensionless", 0.3, 5.0, True),
}
_PK: dict[str, tuple[str, float, float, bool]] = {
    "v1": ("volume", 1e-4, 1e5, True),
    "q2": ("clearance", 0.0, 1e5, False),
    "v2": ("volume", 1e-4, 1e5, False),
    "q3": ("clearance", 0.0, 1e5, False),
    "v3": ("volume", 1e-4, 1e5, False),
}
_ELIMINATION_CL = ("clearance", 0.0, 1e4, True)
_ABSORPTION: dict[str, dict[str, tuple[str, float, float, bool]]] = {
    "oral": {
        "ka": ("rate", 1e-3, 200.0, True),
        "fa": ("dimensionless", 0.0, 1.0, True),
        "fg": ("dimensionless", 0.0, 1.0, True),
    },
    "intranasal": {
        "f_nasal": ("dimensionless", 0.0, 1.0, True),
        "ka_nasal": ("rate", 1e-3, 500.0, True),
    },
    "sublingual": {
        "f_mucosal": ("dimensionless", 0.0, 1.0, True),
        "ka_mucosal": ("rate", 1e-3, 500.0, True),
    },
    "im": {
        "ka": ("rate", 1e-3, 500.0, True),
        "f": ("dimensionless", 0.0, 1.0, True),
    },
    "ip": {
        "ka": ("rate", 1e-3, 500.0, True),
        "f_portal": ("dimensionless", 0.0, 1.0, True),
    },
}
_TARGET: dict[str, tuple[str, float, float, bool]] = {
    "affinity": ("concentration", 1e-9, 1e7, True),
    "hill": ("dimensionless", 0.1, 5.0, False),
    "emax": ("dimensionless", 0.0, 10.0, False),
}
AFFINITY_KINDS = ("ki", "kd", "ic50", "ec50")
# What ``bound`` on a target record means (docs/decisions/0013-contested-affinities.md). "lower": no binding
# or effect was detected up to the recorded concentration, so the true constant is at least that value and
# an occupancy computed from it is the largest one compatible with the data (an upper bound).
AFFINITY_BOUNDS = {
    "lower": "the affinity constant is at least this value (no effect detected up to it); occupancy "
    "computed from it is an upper bound",
}
# NMDA receptor pore block and GluN2B allosteric inhibition (see ketasim.targets.nmda_kinetics)
_NMDA: dict[str, tuple[str, float, float, bool]] = {
    "kd": ("concentration", 1e-6, 1e6, False),
    "v_ref": ("voltage", -200.0, 100.0, False),
    "koff": ("rate", 1e-6, 1e9, False),
    "delta": ("dimensionless", 0.0, 1.5, False),
    "superficial_kd": ("concentration", 1e-6, 1e6, False),
    "superficial_koff": ("rate", 1e-6, 1e9, False),
    "kd_factor_2b": ("dimensionless", 1e-3, 1e3, False),
    "kd_factor_2c": ("dimensionless", 1e-3, 1e3, False),
    "kd_factor_2d": ("dimensionless", 1e-3, 1e3, False),
    "nam_kd": ("concentration", 1e-7, 1e6, False),
    "nam_efficacy": ("dimensionless", 0.0, 1.0, False),
    "nam_koff": ("rate", 1e-6, 1e9, False),
}
TARGETS_PATH = Path(__file__).parent / "data" / "targets.toml"

_BRAIN: dict[str, tuple[str, float, float, bool]] = {
    "k_bbb": ("rate", 0.0, 1e5, False),
    "k_cell": ("rate", 0.0, 1e6, False),
}


@dataclass(frozen=True)
class Elimination:
    """One pathway out of the central compartment."""

    organ: str
    cl: Param
    enzyme: str | None = None
    product: str | None = None


@dataclass(frozen=True)
class TargetAffinity:
    """Affinity of a species for one target (other than NMDA channel block kinetics).

    ``bound`` is None for a measured constant, or a key of :data:`AFFINITY_BOUNDS` ("lower": the
    constant is at least ``affinity``; no effect was detected up to it). ``hypothesis`` names the
    alternative affinity hypothesis (``[hypothesis.NAME]`` in ``data/targets.toml``) the record comes
    from, or is None for the default record of the compound file.
    """

    target: str
    kind: str  # ki | kd | ic50 | ec50
    action: str
    params: Mapping[str, Param]
    bound: str | None = None
    hypothesis: str | None = None

    @property
    def affinity(self) -> float:
        """The affinity constant in µM."""
        return self.params["affinity"].value

    @property
    def hill(self) -> float:
        return self.params["hill"].value if "hill" in self.params else 1.0


@lru_cache(maxsize=1)
def target_names() -> dict[str, dict]:
    """Known targets (``data/targets.toml``): name -> description table."""
    if not TARGETS_PATH.exists():
        return {}
    with TARGETS_PATH.open("rb") as fh:
        data = tomllib.load(fh)
    return {t["name"]: t for t in data.get("target", [])}


@dataclass(frozen=True)
class Species:
    """A single molecular species with its properties and disposition parameters."""

    id: str
    name: str
    analyte: str
    group: str
    ionization: str
    properties: Mapping[str, Param]
    pk: Mapping[str, Param]
    elimination: tuple[Elimination, ...]
    absorption: Mapping[str, Mapping[str, Param]]
    brain: Mapping[str, Param]
    aliases: tuple[str, ...] = ()
    description: str = ""
    path: str = ""
    targets: Mapping[str, TargetAffinity] = field(default_factory=dict)
    nmda: Mapping[str, Param] = field(default_factory=dict)
    overrides: Mapping[str, tuple] = field(default_factory=dict)  # species -> (pk, elimination, absorption)
    species: str = "human"

    def for_species(self, species: str) -> Species:
        """This compound with the disposition of ``species`` (its [species.NAME] tables)."""
        if species == self.species:
            return self
        if species not in SPECIES:
            raise unknown_choice("species", species, SPECIES, "species")
        if species not in self.overrides:
            have = ", ".join(["human", *sorted(self.overrides)])
            raise KetasimError(
                f"compound '{self.id}' has no {species} pharmacokinetics",
                argument="species",
                fix=f"species available for it: {have}",
            )
        pk, elimination, absorption = self.overrides[species]
        return replace(self, pk=pk, elimination=elimination, absorption=absorption, species=species)

    @property
    def components(self) -> dict[str, float]:
        return {self.id: 1.0}

    @property
    def mw(self) -> float:
        return self.properties["mw"].value

    def params(self) -> dict[str, Param]:
        """Every parameter of this species, keyed by a dotted name."""
        out: dict[str, Param] = {}
        for k, p in self.properties.items():
            out[f"{self.id}.properties.{k}"] = p
        for k, p in self.pk.items():
            out[f"{self.id}.pk.{k}"] = p
        for i, e in enumerate(self.elimination):
            out[f"{self.id}.pk.elimination[{i}].cl"] = e.cl
        for route, table in self.absorption.items():
            for k, p in table.items():
                out[f"{self.id}.absorption.{route}.{k}"] = p
        for k, p in self.brain.items():
            out[f"{self.id}.brain.{k}"] = p
        for name, t in self.targets.items():
            for k, p in t.params.items():
                out[f"{self.id}.targets.{name}.{k}"] = p
        for k, p in self.nmda.items():
            out[f"{self.id}.nmda.{k}"] = p
        for animal, (pk, elimination, absorption) in self.overrides.items():
            for k, p in pk.items():
                out[f"{self.id}.species.{animal}.pk.{k}"] = p
            for i, e in enumerate(elimination):
                out[f"{self.id}.species.{animal}.pk.elimination[{i}].cl"] = e.cl
            for route, table in absorption.items():
                for k, p in table.items():
                    out[f"{self.id}.species.{animal}.absorption.{route}.{k}"] = p
        return out


@dataclass(frozen=True)
class Mixture:
    """A dosable mixture of species, e.g. a racemate; fractions are mole fractions of the dose."""

    id: str
    name: str
    components: Mapping[str, float]
    properties: Mapping[str, Param]
    aliases: tuple[str, ...] = ()
    description: str = ""
    path: str = ""

    @property
    def mw(self) -> float:
        return self.properties["mw"].value

    def params(self) -> dict[str, Param]:
        return {f"{self.id}.properties.{k}": p for k, p in self.properties.items()}


Compound = Species | Mixture


def _param(raw: Any, where: str, name: str, spec: tuple[str, float, float, bool]) -> Param:
    kind, lo, hi, _ = spec
    value, status = read_param_fields(raw, where)
    canonical = units.convert(float(value), str(raw["unit"]), kind, where)
    if not (lo <= canonical <= hi):
        raise KetasimError(
            f"value {value} {raw['unit']} is outside the plausible range "
            f"[{lo}, {hi}] {units.CANONICAL[kind]}",
            argument=where,
        )
    return Param(
        value=canonical,
        unit=units.LABEL[kind],
        source=str(raw["source"]),
        status=status,
        calibration=raw.get("calibration"),
        note=raw.get("note"),
        name=name,
    )


def _table(
    raw: Any, where: str, specs: Mapping[str, tuple[str, float, float, bool]], prefix: str
) -> dict[str, Param]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise KetasimError("must be a table", argument=where)
    unknown = set(raw) - set(specs)
    if unknown:
        name = sorted(unknown)[0]
        raise unknown_choice("field", name, specs, f"{where}.{name}")
    out = {}
    for key, spec in specs.items():
        if key in raw:
            out[key] = _param(raw[key], f"{where}.{key}", f"{prefix}.{key}", spec)
        elif spec[3]:
            raise KetasimError("required field is missing", argument=f"{where}.{key}")
    return out


def parse_compound(data: Mapping[str, Any], source: str) -> Compound:
    """Check and convert one compound file's contents (already parsed from TOML)."""
    if "id" not in data or not isinstance(data["id"], str):
        raise KetasimError("missing 'id'", argument=source, fix='add id = "<file name without .toml>"')
    cid = data["id"]
    where = f"{source}"
    name = str(data.get("name", cid))
    aliases = tuple(str(a) for a in data.get("aliases", []))
    description = str(data.get("description", ""))
    if "components" in data:
        comps = data["components"]
        if not isinstance(comps, dict) or not comps:
            raise KetasimError(
                "must be a non-empty table of species ids and mole fractions", argument=f"{where}: components"
            )
        total = 0.0
        for k, v in comps.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                raise KetasimError(
                    f"fraction {v!r} must be a positive number", argument=f"{where}: components.{k}"
                )
            total += v
        if abs(total - 1.0) > 1e-9:
            raise KetasimError(f"fractions sum to {total}, not 1", argument=f"{where}: components")
        props = _table(
            data.get("properties"), f"{where}: properties", {"mw": _PROPERTIES["mw"]}, f"{cid}.properties"
        )
        return Mixture(cid, name, dict(comps), props, aliases, description, source)

    for key in ("analyte", "group"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise KetasimError(f"missing '{key}'", argument=f"{where}: {key}")
    props_raw = dict(data.get("properties") or {})
    ionization = props_raw.pop("ionization", None)
    if ionization not in IONIZATION:
        raise KetasimError(
            f"'{ionization}' is not one of {', '.join(IONIZATION)}",
            argument=f"{where}: properties.ionization",
        )
    props = _table(props_raw, f"{where}: properties", _PROPERTIES, f"{cid}.properties")
    if ionization in ("base", "acid") and "pka" not in props:
        raise KetasimError("an ionisable compound needs a pKa", argument=f"{where}: properties.pka")
    pk, elimination, absorption = _disposition(data.get("pk"), data.get("absorption"), where, cid, "")
    overrides = {}
    species_raw = data.get("species") or {}
    if not isinstance(species_raw, dict):
        raise KetasimError("must be a table of species", argument=f"{where}: species")
    for animal, table in species_raw.items():
        sw = f"species.{animal}"
        if animal not in SPECIES or animal == "human":
            raise unknown_choice("species", animal, [x for x in SPECIES if x != "human"], f"{where}: {sw}")
        if not isinstance(table, dict) or set(table) - {"pk", "absorption", "note"}:
            raise KetasimError(
                "may hold only [pk], [[pk.elimination]] and [absorption]", argument=f"{where}: {sw}"
            )
        overrides[animal] = _disposition(table.get("pk"), table.get("absorption"), where, cid, f"{sw}.")
    brain = _table(data.get("brain"), f"{where}: brain", _BRAIN, f"{cid}.brain")
    targets = _targets(data.get("targets"), where, cid)
    nmda = _table(data.get("nmda"), f"{where}: nmda", _NMDA, f"{cid}.nmda")
    pore = {"kd", "v_ref", "koff", "delta"}
    if pore & set(nmda) and not pore <= set(nmda):
        raise KetasimError(
            f"pore block needs all of {sorted(pore)}", argument=f"{where}: nmda", fix="add the missing fields"
        )
    for a, b in (("superficial_kd", "superficial_koff"), ("nam_kd", "nam_efficacy")):
        if (a in nmda) != (b in nmda):
            raise KetasimError(f"'{a}' and '{b}' go together", argument=f"{where}: nmda.{a}")
    unknown_sections = set(data) - {
        "id",
        "name",
        "analyte",
        "group",
        "aliases",
        "description",
        "properties",
        "pk",
        "absorption",
        "brain",
        "targets",
        "nmda",
        "species",
    }
    if unknown_sections:
        name = sorted(unknown_sections)[0]
        raise KetasimError("unknown section or key", argument=f"{where}: {name}")
    return Species(
        id=cid,
        name=name,
        analyte=data["analyte"],
        group=data["group"],
        ionization=ionization,
        properties=props,
        pk=pk,
        elimination=elimination,
        absorption=absorption,
        brain=brain,
        aliases=aliases,
        description=description,
        path=source,
        targets=targets,
        nmda=nmda,
        overrides=overrides,
    )


def _disposition(pk_raw: Any, absorption_raw: Any, where: str, cid: str, prefix: str):
    """Parse a [pk] table (with [[pk.elimination]]) and an [absorption] table."""
    pk_raw = dict(pk_raw or {})
    elim_raw = pk_raw.pop("elimination", [])
    pk = _table(pk_raw, f"{where}: {prefix}pk", _PK, f"{cid}.{prefix}pk")
    for q, v in (("q2", "v2"), ("q3", "v3")):
        if (q in pk) != (v in pk):
            raise KetasimError(f"'{q}' and '{v}' must be given together", argument=f"{where}: {prefix}pk.{q}")
    if "q3" in pk and "q2" not in pk:
        raise KetasimError("a third compartment needs a second", argument=f"{where}: {prefix}pk.q3")
    if not isinstance(elim_raw, list):
        raise KetasimError(
            "must be an array of tables [[pk.elimination]]", argument=f"{where}: {prefix}pk.elimination"
        )
    elimination = []
    for i, e in enumerate(elim_raw):
        ew = f"{where}: {prefix}pk.elimination[{i}]"
        if not isinstance(e, dict):
            raise KetasimError("must be a table", argument=ew)
        organ = e.get("organ")
        if organ not in ORGANS:
            raise KetasimError(f"organ '{organ}' is not one of {', '.join(ORGANS)}", argument=f"{ew}.organ")
        unexpected = set(e) - {"organ", "enzyme", "cl", "product", "note"}
        if unexpected:
            raise KetasimError(f"unknown key(s) {sorted(unexpected)}", argument=ew)
        enzyme = e.get("enzyme")
        if organ == "liver" and not enzyme:
            raise KetasimError("a liver pathway must name its enzyme", argument=f"{ew}.enzyme")
        cl = _param(e.get("cl"), f"{ew}.cl", f"{cid}.{prefix}pk.elimination[{i}].cl", _ELIMINATION_CL)
        product = e.get("product")
        if product is not None and not isinstance(product, str):
            raise KetasimError("must be a compound id", argument=f"{ew}.product")
        elimination.append(Elimination(organ, cl, enzyme, product))
    absorption_raw = absorption_raw or {}
    if not isinstance(absorption_raw, dict):
        raise KetasimError("must be a table", argument=f"{where}: {prefix}absorption")
    absorption = {}
    for route, table in absorption_raw.items():
        if route not in _ABSORPTION:
            raise unknown_choice("route", route, _ABSORPTION, f"{where}: {prefix}absorption.{route}")
        absorption[route] = _table(
            table,
            f"{where}: {prefix}absorption.{route}",
            _ABSORPTION[route],
            f"{cid}.{prefix}absorption.{route}",
        )
    if "intranasal" in absorption or "sublingual" in absorption:
        if "oral" not in absorption:
            raise KetasimError(
                "intranasal and sublingual doses are partly swallowed, so [absorption.oral] is required",
                argument=f"{where}: {prefix}absorption",
            )
    return pk, tuple(elimination), absorption


def _target_record(
    name: str, table: Any, tw: str, prefix: str, hypothesis: str | None = None
) -> TargetAffinity:
    """One target record: kind, action, optional bound and the affinity parameters."""
    if not isinstance(table, dict):
        raise KetasimError("must be a table", argument=tw)
    table = dict(table)
    kind = table.pop("kind", None)
    action = table.pop("action", "")
    bound = table.pop("bound", None)
    if kind not in AFFINITY_KINDS:
        raise KetasimError(f"kind '{kind}' is not one of {', '.join(AFFINITY_KINDS)}", argument=f"{tw}.kind")
    if not isinstance(action, str):
        raise KetasimError("must be text", argument=f"{tw}.action")
    if bound is not None and bound not in AFFINITY_BOUNDS:
        raise KetasimError(
            f"bound {bound!r} is not one of {', '.join(AFFINITY_BOUNDS)}",
            argument=f"{tw}.bound",
            fix='leave it out for a measured constant, or write bound = "lower" when no effect was '
            "detected up to the recorded concentration",
        )
    params = _table(table, tw, _TARGET, prefix)
    return TargetAffinity(name, kind, action, params, bound, hypothesis)


def _targets(raw: Any, where: str, cid: str) -> dict[str, TargetAffinity]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise KetasimError("must be a table of targets", argument=f"{where}: targets")
    known = target_names()
    out = {}
    for name, table in raw.items():
        tw = f"{where}: targets.{name}"
        if known and name not in known:
            raise unknown_choice("target", name, known, tw)
        out[name] = _target_record(name, table, tw, f"{cid}.targets.{name}")
    return out


# ------------------------------------------------------------------ alternative affinity hypotheses
_HYPOTHESIS_KEYS = {"label", "target", "evidence_for", "evidence_against", "record"}


@dataclass(frozen=True)
class AffinityHypothesis:
    """A contested affinity kept as an explicit alternative to the default (``[hypothesis.NAME]`` in
    ``data/targets.toml``): with it selected, its records replace the species' default records for
    ``target`` (:func:`with_affinity_hypotheses`)."""

    name: str
    label: str
    target: str
    evidence_for: str
    evidence_against: str
    records: Mapping[str, TargetAffinity]  # species id -> record

    def params(self) -> dict[str, Param]:
        """Every parameter of the hypothesis, keyed as in the data file."""
        return {
            f"hypothesis.{self.name}.record[{i}].{k}": p
            for i, t in enumerate(self.records.values())
            for k, p in t.params.items()
        }


def _hypothesis(name: str, raw: Any, known: Mapping[str, dict]) -> AffinityHypothesis:
    where = f"targets.toml: hypothesis.{name}"
    if not name.replace("_", "").isalnum() or name != name.lower():
        raise KetasimError("a hypothesis name must be snake_case", argument=where)
    if not isinstance(raw, dict):
        raise KetasimError("must be a table", argument=where)
    unknown = set(raw) - _HYPOTHESIS_KEYS
    if unknown:
        raise unknown_choice("key", sorted(unknown)[0], _HYPOTHESIS_KEYS, where)
    for key in ("label", "target", "evidence_for", "evidence_against"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise KetasimError(f"'{key}' must be non-empty text", argument=f"{where}.{key}")
    target = raw["target"]
    if target not in known:
        raise unknown_choice("target", target, known, f"{where}.target")
    rows = raw.get("record")
    if not isinstance(rows, list) or not rows:
        raise KetasimError(
            "needs at least one [[hypothesis.NAME.record]] with species, kind, action and affinity",
            argument=f"{where}.record",
        )
    records: dict[str, TargetAffinity] = {}
    for i, row in enumerate(rows):
        rw = f"{where}.record[{i}]"
        if not isinstance(row, dict):
            raise KetasimError("must be a table", argument=rw)
        row = dict(row)
        species = row.pop("species", None)
        if not isinstance(species, str) or not species.strip():
            raise KetasimError("'species' must name a species id", argument=f"{rw}.species")
        if species in records:
            raise KetasimError(f"species '{species}' is listed twice", argument=f"{rw}.species")
        records[species] = _target_record(target, row, rw, f"hypothesis.{name}.record[{i}]", name)
    return AffinityHypothesis(
        name, raw["label"], target, raw["evidence_for"], raw["evidence_against"], records
    )


def parse_affinity_hypotheses(data: Mapping[str, Any]) -> dict[str, AffinityHypothesis]:
    """Check and convert the ``[hypothesis.NAME]`` tables of a targets file (already parsed from TOML)."""
    known = {t["name"]: t for t in data.get("target", [])}
    raw = data.get("hypothesis", {})
    if not isinstance(raw, dict):
        raise KetasimError("must be a table of hypotheses", argument="targets.toml: hypothesis")
    return {name: _hypothesis(name, table, known) for name, table in raw.items()}


@lru_cache(maxsize=1)
def affinity_hypotheses() -> dict[str, AffinityHypothesis]:
    """The alternative affinity hypotheses of ``data/targets.toml``: name -> hypothesis."""
    if not TARGETS_PATH.exists():
        return {}
    with TARGETS_PATH.open("rb") as fh:
        return parse_affinity_hypotheses(tomllib.load(fh))


def with_affinity_hypotheses(
    library: Library, names: Iterable[str], argument: str = "affinity_hypotheses"
) -> Library:
    """A copy of ``library`` in which the named affinity hypotheses replace the default target records.

    Each hypothesis replaces (or adds) the record for its target in every species it lists; species it
    does not list keep their default record. Two selected hypotheses may not touch the same species
    and target. Unknown names and species missing from the library raise :class:`KetasimError`.
    """
    catalogue = affinity_hypotheses()
    if isinstance(names, str):
        names = [names]
    chosen: dict[tuple[str, str], str] = {}
    compounds = dict(library.compounds)
    for name in names:
        hyp = catalogue.get(name)
        if hyp is None:
            raise unknown_choice("affinity hypothesis", name, catalogue, argument)
        for sid, record in hyp.records.items():
            sp = compounds.get(sid)
            if not isinstance(sp, Species):
                raise KetasimError(
                    f"hypothesis '{name}' names '{sid}', which is not a species in the library",
                    argument=argument,
                )
            key = (sid, hyp.target)
            if key in chosen:
                raise KetasimError(
                    f"hypotheses '{chosen[key]}' and '{name}' both set {sid} at {hyp.target}",
                    argument=argument,
                    fix="select only one of them",
                )
            chosen[key] = name
            compounds[sid] = replace(sp, targets={**sp.targets, hyp.target: record})
    return Library(compounds)


def load_file(path: str | Path) -> Compound:
    """Load and check one compound file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise KetasimError("file not found", argument=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise KetasimError(f"not valid TOML: {exc}", argument=path.name) from None
    compound = parse_compound(data, path.name)
    if compound.id != path.stem:
        raise KetasimError(
            f"id '{compound.id}' differs from the file name",
            argument=f"{path.name}: id",
            fix=f'set id = "{path.stem}"',
        )
    return compound


@dataclass
class Library:
    """All compounds known to a session, with name and alias lookup."""

    compounds: dict[str, Compound] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._names: dict[str, str] = {}
        for c in self.compounds.values():
            self._register(c)
        self._check_references()

    def _register(self, c: Compound) -> None:
        names = [c.id, *c.aliases]
        if isinstance(c, Species):
            names.append(c.analyte)
        for n in names:
            key = n.lower()
            if key in self._names and self._names[key] != c.id:
                raise KetasimError(
                    f"name '{n}' is used by both '{self._names[key]}' and '{c.id}'", argument=c.path
                )
            self._names[key] = c.id

    def _check_references(self) -> None:
        for c in self.compounds.values():
            if isinstance(c, Mixture):
                for s in c.components:
                    if not isinstance(self.compounds.get(s), Species):
                        raise KetasimError(
                            f"component '{s}' is not a species in the library",
                            argument=f"{c.path}: components",
                        )
            else:
                pathways = list(c.elimination) + [e for _, el, _ in c.overrides.values() for e in el]
                for i, e in enumerate(pathways):
                    if e.product is not None and not isinstance(self.compounds.get(e.product), Species):
                        raise KetasimError(
                            f"product '{e.product}' is not a species in the library",
                            argument=f"{c.path}: pk.elimination[{i}].product",
                        )

    def names(self) -> list[str]:
        return sorted(self.compounds)

    def get(self, name: str, argument: str = "compound") -> Compound:
        """Find a compound by id, alias or analyte name (case-insensitive)."""
        if not isinstance(name, str) or not name.strip():
            raise KetasimError(
                "no compound given", argument=argument, fix="choose one of: " + ", ".join(self.names())
            )
        cid = self._names.get(name.strip().lower())
        if cid is None:
            raise unknown_choice("compound", name, self.compounds, argument)
        return self.compounds[cid]

    def species(self, name: str) -> Species:
        c = self.get(name)
        if not isinstance(c, Species):
            raise KetasimError(f"'{name}' is a mixture, not a single species", argument="compound")
        return c

    def closure(self, roots: Iterable[str], species: str = "human") -> list[Species]:
        """The species that dosing ``roots`` can produce: components and their metabolites, in order."""
        order: list[str] = []
        stack = []
        for r in roots:
            stack.extend(reversed(list(self.get(r).components)))
        seen: set[str] = set()
        while stack:
            sid = stack.pop()
            if sid in seen:
                continue
            seen.add(sid)
            order.append(sid)
            sp = self.compounds[sid]
            assert isinstance(sp, Species)
            sp = sp.for_species(species)
            for e in reversed(sp.elimination):
                if e.product and e.product not in seen:
                    stack.append(e.product)
        return [self.compounds[s].for_species(species) for s in order]  # type: ignore[union-attr]


def load_library(extra_dirs: Iterable[str | Path] = ()) -> Library:
    """Load the packaged compounds plus any in ``extra_dirs`` (or $KETASIM_COMPOUNDS, ':'-separated)."""
    dirs = [DATA_DIR, *map(Path, extra_dirs)]
    env = os.environ.get("KETASIM_COMPOUNDS")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    compounds: dict[str, Compound] = {}
    for d in dirs:
        for path in sorted(Path(d).glob("*.toml")):
            c = load_file(path)
            compounds[c.id] = c
    return Library(compounds)


@lru_cache(maxsize=1)
def default_library() -> Library:
    """The packaged library (cached)."""
    return load_library()
