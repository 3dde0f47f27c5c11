"""Virtual patients: a sourced population definition and a vectorised, seeded sampler.

A population lives in a TOML file (``data/populations/<name>.toml``; literature behind the packaged
``trd`` file in ``docs/sources/population.md``). Every number is a ``{value, unit, source, status}``
table, converted to its canonical unit and checked on loading; any problem raises
:class:`~ketasim.errors.KetasimError` naming the file and the field.

Sections of a population file (all required except ``[bmi]`` bounds and ``[variability]``):

==================  =====================================================================================
``[sex]``           ``female_fraction``
``[height]``        ``male_mean``, ``male_sd``, ``female_mean``, ``female_sd`` (normal by sex; length unit)
``[bmi]``           ``mean``, ``sd`` (arithmetic moments of a lognormal; kg/m^2), optional ``lower``/``upper``
``[age]``           ``mean``, ``sd``, ``lower``, ``upper`` (normal truncated to the inclusion range; years)
``[cyp2b6]``        ``variant_allele_frequency`` (the *6 allele, Hardy-Weinberg) or a
                    ``[cyp2b6.genotype_frequencies]`` table over ``*1/*1``, ``*1/*6``, ``*6/*6``
``[bdnf]``          the same for Val66Met: ``variant_allele_frequency`` (Met) or genotype frequencies
                    over ``Val/Val``, ``Val/Met``, ``Met/Met``
``[fh_aud]``        ``fraction`` with a family history of alcohol use disorder
``[madrs_baseline]`` ``mean``, ``sd`` of the parent normal, ``lower``/``upper`` inclusion bounds (points)
``[variability.X]`` ``family`` = lognormal | normal | logitnormal and ``cv`` (lognormal, normal) or
                    ``sd`` (lognormal: SD of the log; logitnormal: SD of the logit), optional description
==================  =====================================================================================

:func:`sample` returns one row per patient (index ``patient``) with these columns (unit in the name):

- ``sex`` ("F"/"M"), ``age_y`` (years), ``height_cm``, ``bmi_kg_m2``, ``weight_kg``;
- ``cyp2b6`` (genotype names as accepted by :mod:`ketasim.pk.covariates`: ``*1/*1``, ``*1/*6``,
  ``*6/*6``), ``bdnf`` (``Val/Val``, ``Val/Met``, ``Met/Met``), ``fh_aud`` (bool);
- ``madrs_baseline`` (MADRS points, continuous, within the inclusion bounds);
- ``eta_<name>`` for each ``[variability.<name>]``: a multiplicative factor with median 1 (on the value
  for lognormal and normal families, on the odds for logitnormal; apply it with :func:`apply_eta`).

Sampling (one generator, ``numpy.random.default_rng(seed)``, a fixed order of draws, so the same seed
gives the same frame and an override of one field leaves every other draw unchanged):

- sex ~ Bernoulli(female_fraction); height ~ Normal(mean, sd) of that sex; BMI ~ lognormal with the
  given arithmetic mean and SD (ln-scale sigma^2 = ln(1 + (sd/mean)^2), mu = ln(mean) - sigma^2/2);
  weight = BMI x height^2, so weight follows sex through height (Quetelet's index, BMI = kg/m^2);
- age and baseline MADRS: normal truncated to [lower, upper] by the inverse CDF, x = mu + sigma
  Phi^-1(Phi(a) + u (Phi(b) - Phi(a))), never by rejection;
- genotypes: from the allele frequency q under Hardy-Weinberg, ((1-q)^2, 2q(1-q), q^2), unless genotype
  frequencies are given; one uniform per patient is mapped through the cumulative frequencies.

A scenario changes the population with :func:`with_params` (e.g. a MADRS inclusion bound of 22, another
allele frequency) and individual patients with the ``overrides`` of :func:`sample`. Later layers turn the
``eta_<name>`` columns into individual parameters with :func:`apply_eta` and the body size and genotype
into PK covariates with :func:`to_covariates`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pint
from scipy import special

from ketasim.errors import KetasimError, suggest, unknown_choice
from ketasim.physiology import CYP2B6_GENOTYPES
from ketasim.pk.covariates import Covariates
from ketasim.provenance import Param, Status, read_param_fields
from ketasim.units import ureg

DATA_DIR = Path(__file__).parent / "data" / "populations"

BDNF_GENOTYPES = ("Val/Val", "Val/Met", "Met/Met")
SEXES = ("F", "M")
FAMILIES = ("lognormal", "normal", "logitnormal")

# kind -> (canonical pint unit, label, lowest, highest)
_KINDS: dict[str, tuple[str, str, float, float]] = {
    "fraction": ("dimensionless", "", 0.0, 1.0),
    "length": ("centimeter", "cm", 0.0, 300.0),
    "bmi": ("kilogram / meter ** 2", "kg/m^2", 5.0, 150.0),
    "bmi_sd": ("kilogram / meter ** 2", "kg/m^2", 0.0, 50.0),
    "age": ("year", "year", 0.0, 130.0),
    "score": ("dimensionless", "", 0.0, 60.0),
    "spread": ("dimensionless", "", 0.0, 10.0),
}

# section -> field -> (kind, required)
_SECTIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "sex": {"female_fraction": ("fraction", True)},
    "height": {
        "male_mean": ("length", True),
        "male_sd": ("length", True),
        "female_mean": ("length", True),
        "female_sd": ("length", True),
    },
    "bmi": {"mean": ("bmi", True), "sd": ("bmi_sd", True), "lower": ("bmi", False), "upper": ("bmi", False)},
    "age": {"mean": ("age", True), "sd": ("age", True), "lower": ("age", True), "upper": ("age", True)},
    "fh_aud": {"fraction": ("fraction", True)},
    "madrs_baseline": {
        "mean": ("score", True),
        "sd": ("score", True),
        "lower": ("score", True),
        "upper": ("score", True),
    },
}
_GENOTYPE_SECTIONS: dict[str, tuple[str, ...]] = {"cyp2b6": CYP2B6_GENOTYPES, "bdnf": BDNF_GENOTYPES}
_TOP_LEVEL = {"name", "description", *_SECTIONS, *_GENOTYPE_SECTIONS, "variability"}

# output column -> unit label (documentation and DataFrame attrs)
COLUMN_UNITS: dict[str, str] = {
    "sex": "F/M",
    "age_y": "year",
    "height_cm": "cm",
    "bmi_kg_m2": "kg/m^2",
    "weight_kg": "kg",
    "cyp2b6": "genotype",
    "bdnf": "genotype",
    "fh_aud": "bool",
    "madrs_baseline": "MADRS points",
}

# plausible range of a numeric column (for overrides): column -> (lowest, highest, inclusive low)
_RANGES: dict[str, tuple[float, float, bool]] = {
    "age_y": (0.0, 130.0, True),
    "height_cm": (0.0, 300.0, False),
    "bmi_kg_m2": (0.0, 150.0, False),
    "weight_kg": (0.0, 400.0, False),
    "madrs_baseline": (0.0, 60.0, True),
}


@dataclass(frozen=True)
class Variability:
    """Between-patient variability of one named quantity.

    ``spread`` is the CV (lognormal, normal) or the SD on the log (lognormal, given as ``sd``) or logit
    (logitnormal) scale, as ``spread_kind`` says. A normal factor 1 + cv z can reach zero or below with
    probability Phi(-1/cv); use the lognormal family for quantities that must stay positive.
    """

    name: str
    family: str
    spread: Param
    spread_kind: str  # "cv" | "sd"
    description: str = ""

    @property
    def omega(self) -> float:
        """SD of the underlying normal: ln-scale (lognormal), factor SD (normal), logit-scale."""
        s = self.spread.value
        if self.family == "lognormal" and self.spread_kind == "cv":
            return math.sqrt(math.log1p(s * s))
        return s


@dataclass(frozen=True)
class PopulationSpec:
    """A checked population definition: every number a :class:`Param` in canonical units.

    ``params`` is keyed ``"<section>.<field>"`` (e.g. ``"age.mean"``); genotype frequencies (given or
    derived under Hardy-Weinberg) are under ``"cyp2b6.<genotype>"`` and ``"bdnf.<genotype>"``.
    """

    name: str
    description: str
    params: Mapping[str, Param]
    variability: Mapping[str, Variability] = field(default_factory=dict)
    path: str = ""

    def __getitem__(self, key: str) -> float:
        return self.params[key].value

    def genotype_frequencies(self, gene: str) -> dict[str, float]:
        """Genotype -> frequency for ``gene`` (``"cyp2b6"`` or ``"bdnf"``)."""
        if gene not in _GENOTYPE_SECTIONS:
            raise unknown_choice("gene", gene, _GENOTYPE_SECTIONS, "gene")
        return {g: self.params[f"{gene}.{g}"].value for g in _GENOTYPE_SECTIONS[gene]}

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns of a frame drawn by :func:`sample`, in order."""
        return (*COLUMN_UNITS, *(f"eta_{k}" for k in sorted(self.variability)))

    def records(self) -> list[dict[str, Any]]:
        """Every parameter as a provenance record (name, value, unit, source, status)."""
        out = [{**p.citation(), "name": k} for k, p in self.params.items()]
        out += [
            {**v.spread.citation(), "name": f"variability.{k}.{v.spread_kind}"}
            for k, v in self.variability.items()
        ]
        return out


# ---------------------------------------------------------------------------------------------- loading


def available_populations() -> list[str]:
    """Names of the packaged populations."""
    return sorted(p.stem for p in DATA_DIR.glob("*.toml"))


def load_population(name_or_path: str | Path) -> PopulationSpec:
    """Load and check a population by packaged name (``"trd"``) or by the path of a TOML file.

    Raises :class:`KetasimError` for an unknown name, a missing or malformed file, or a bad field
    (the message names the file and the field).
    """
    if not isinstance(name_or_path, str | Path):
        raise KetasimError(
            f"expected a population name or file path, got {type(name_or_path).__name__}",
            argument="population",
        )
    text = str(name_or_path)
    path = Path(name_or_path)
    if path.suffix != ".toml" and "/" not in text and "\\" not in text:
        names = available_populations()
        if text not in names:
            raise unknown_choice("population", text, names, "population")
        path = DATA_DIR / f"{text}.toml"
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise KetasimError("file not found", argument=str(path)) from None
    except IsADirectoryError:
        raise KetasimError("is a directory, not a population file", argument=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise KetasimError(f"not valid TOML: {exc}", argument=path.name) from None
    return parse_population(data, path.name, path=str(path))


def parse_population(data: Mapping[str, Any], source: str, path: str = "") -> PopulationSpec:
    """Check and convert the contents of one population file (already parsed from TOML)."""
    unknown = set(data) - _TOP_LEVEL
    if unknown:
        key = sorted(unknown)[0]
        raise unknown_choice("section", key, sorted(_TOP_LEVEL), f"{source}: {key}")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name.strip():
        raise KetasimError("must be a non-empty string", argument=f"{source}: name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise KetasimError("must be a string", argument=f"{source}: description")

    params: dict[str, Param] = {}
    for section, specs in _SECTIONS.items():
        table = _table(data.get(section), f"{source}: {section}")
        unknown = set(table) - set(specs)
        if unknown:
            key = sorted(unknown)[0]
            raise unknown_choice("field", key, specs, f"{source}: {section}.{key}")
        for key, (kind, required) in specs.items():
            where = f"{source}: {section}.{key}"
            if key in table:
                params[f"{section}.{key}"] = _param(table[key], where, f"{name}.{section}.{key}", kind)
            elif required:
                raise KetasimError("required field is missing", argument=where)
    for section, genotypes in _GENOTYPE_SECTIONS.items():
        params.update(_genotypes(data.get(section), f"{source}: {section}", name, section, genotypes))
    variability = _variability(data.get("variability", {}), f"{source}: variability", name)
    _check_consistency(params, source)
    return PopulationSpec(name, description, params, variability, path)


def _table(raw: Any, where: str) -> dict:
    if raw is None:
        raise KetasimError("required section is missing", argument=where)
    if not isinstance(raw, dict):
        raise KetasimError("must be a table", argument=where)
    return raw


def _param(raw: Any, where: str, name: str, kind: str) -> Param:
    unit_name, label, lo, hi = _KINDS[kind]
    value, status = read_param_fields(
        raw, where, 'e.g. { value = 0.5, unit = "", source = "...", status = "measured" }'
    )
    if not math.isfinite(value):
        raise KetasimError(f"value {raw['value']!r} is not a finite number", argument=where)
    unit = str(raw["unit"]).strip()
    try:
        quantity = ureg.Quantity(float(value), unit if unit not in ("", "1") else "dimensionless")
        canonical = float(quantity.to(unit_name).magnitude)
    except pint.DimensionalityError:
        raise KetasimError(
            f"unit '{unit}' does not convert to {unit_name}", argument=where, fix=f"use a unit like '{label}'"
        ) from None
    except Exception:
        raise KetasimError(
            f"cannot read unit '{unit}'", argument=where, fix=f"use a unit like '{label}'"
        ) from None
    if not (lo <= canonical <= hi):
        raise KetasimError(
            f"value {f'{value} {unit}'.strip()} is outside the plausible range [{lo}, {hi}] {label}".rstrip(),
            argument=where,
        )
    return Param(
        value=canonical,
        unit=label,
        source=str(raw["source"]),
        status=status,
        calibration=raw.get("calibration"),
        note=raw.get("note"),
        name=name,
    )


def _genotypes(raw: Any, where: str, pop: str, gene: str, genotypes: tuple[str, ...]) -> dict[str, Param]:
    table = _table(raw, where)
    allowed = {"variant_allele_frequency", "genotype_frequencies"}
    unknown = set(table) - allowed
    if unknown:
        key = sorted(unknown)[0]
        raise unknown_choice("field", key, allowed, f"{where}.{key}")
    if len(set(table) & allowed) != 1:
        raise KetasimError(
            "give either variant_allele_frequency or genotype_frequencies (exactly one)", argument=where
        )
    out: dict[str, Param] = {}
    if "variant_allele_frequency" in table:
        q_param = _param(
            table["variant_allele_frequency"],
            f"{where}.variant_allele_frequency",
            f"{pop}.{gene}.variant_allele_frequency",
            "fraction",
        )
        out[f"{gene}.variant_allele_frequency"] = q_param
        q = q_param.value
        for g, f in zip(genotypes, ((1 - q) ** 2, 2 * q * (1 - q), q * q), strict=True):
            out[f"{gene}.{g}"] = Param(
                value=f,
                unit="",
                source=f"Hardy-Weinberg from variant allele frequency {q:g} ({q_param.source})",
                status=Status.DERIVED,
                name=f"{pop}.{gene}.{g}",
            )
        return out
    freqs = _table(table["genotype_frequencies"], f"{where}.genotype_frequencies")
    unknown = set(freqs) - set(genotypes)
    if unknown:
        key = sorted(unknown)[0]
        raise unknown_choice("genotype", key, genotypes, f"{where}.genotype_frequencies")
    for g in genotypes:
        w = f'{where}.genotype_frequencies."{g}"'
        if g not in freqs:
            raise KetasimError("genotype frequency is missing", argument=w)
        out[f"{gene}.{g}"] = _param(freqs[g], w, f"{pop}.{gene}.{g}", "fraction")
    total = sum(out[f"{gene}.{g}"].value for g in genotypes)
    if abs(total - 1.0) > 1e-6:
        raise KetasimError(
            f"genotype frequencies sum to {total:.6g}, not 1",
            argument=f"{where}.genotype_frequencies",
            fix="give frequencies of " + ", ".join(genotypes) + " that sum to 1",
        )
    return out


def _variability(raw: Any, where: str, pop: str) -> dict[str, Variability]:
    if not isinstance(raw, dict):
        raise KetasimError("must be a table of [variability.NAME] tables", argument=where)
    out = {}
    for name, entry in raw.items():
        w = f"{where}.{name}"
        if not name.isidentifier():
            raise KetasimError("name must be a valid identifier (letters, digits, _)", argument=w)
        if not isinstance(entry, dict):
            raise KetasimError("must be a table with family and cv or sd", argument=w)
        unknown = set(entry) - {"family", "cv", "sd", "description"}
        if unknown:
            key = sorted(unknown)[0]
            raise unknown_choice("field", key, ("family", "cv", "sd", "description"), f"{w}.{key}")
        family = entry.get("family")
        if family not in FAMILIES:
            raise unknown_choice("distribution family", str(family), FAMILIES, f"{w}.family")
        kinds = [k for k in ("cv", "sd") if k in entry]
        allowed = {"lognormal": ("cv", "sd"), "normal": ("cv",), "logitnormal": ("sd",)}[family]
        if len(kinds) != 1 or kinds[0] not in allowed:
            raise KetasimError(
                f"a {family} variability needs exactly one of: " + ", ".join(allowed), argument=w
            )
        kind = kinds[0]
        spread = _param(entry[kind], f"{w}.{kind}", f"{pop}.variability.{name}.{kind}", "spread")
        description = entry.get("description", "")
        if not isinstance(description, str):
            raise KetasimError("must be a string", argument=f"{w}.description")
        out[name] = Variability(name, family, spread, kind, description)
    return out


def _check_consistency(params: Mapping[str, Param], source: str) -> None:
    for section in ("height", "bmi", "age", "madrs_baseline"):
        for key in ("sd", "male_sd", "female_sd"):
            full = f"{section}.{key}"
            if full in params and params[full].value <= 0:
                raise KetasimError("standard deviation must be positive", argument=f"{source}: {full}")
    for section in ("bmi", "age", "madrs_baseline"):
        lo = params.get(f"{section}.lower")
        hi = params.get(f"{section}.upper")
        if lo is not None and hi is not None and not lo.value < hi.value:
            raise KetasimError(
                f"lower bound {lo.value:g} is not below upper bound {hi.value:g}",
                argument=f"{source}: {section}",
            )
    for section in ("age", "madrs_baseline"):
        mu, sd = params[f"{section}.mean"].value, params[f"{section}.sd"].value
        a = (params[f"{section}.lower"].value - mu) / sd
        b = (params[f"{section}.upper"].value - mu) / sd
        if _interval_mass(a, b) < 1e-9:
            raise KetasimError(
                "the bounds leave (almost) no probability under the normal distribution",
                argument=f"{source}: {section}",
                fix="bring the mean inside the bounds or widen them",
            )


def _interval_mass(a: float, b: float) -> float:
    if a > 0:
        return float(special.ndtr(-a) - special.ndtr(-b))
    return float(special.ndtr(b) - special.ndtr(a))


def with_params(spec: PopulationSpec, changes: Mapping[str, float | Param]) -> PopulationSpec:
    """A copy of ``spec`` with some parameters replaced (a scenario's change to the population).

    ``changes`` maps a parameter key of ``spec.params`` (``"madrs_baseline.lower"``,
    ``"cyp2b6.variant_allele_frequency"``) or ``"variability.<name>"`` to a :class:`Param` or to a
    number in the canonical unit of that key (``spec.params[key].unit``), which is recorded with status
    ``assumed`` and source "scenario override". A changed allele frequency re-derives the genotype
    frequencies under Hardy-Weinberg. The result passes the same checks as a loaded file.
    """
    params = dict(spec.params)
    variability = dict(spec.variability)
    for key, value in changes.items():
        if key.startswith("variability."):
            name = key.split(".", 1)[1]
            if name not in variability:
                raise unknown_choice("variability", name, variability, "changes")
            old = variability[name]
            variability[name] = Variability(
                name, old.family, _changed(old.spread, value, key, "spread"), old.spread_kind, old.description
            )
            continue
        if key not in params:
            raise unknown_choice("parameter", str(key), list(params), "changes")
        section = key.split(".", 1)[0]
        if section in _GENOTYPE_SECTIONS and key != f"{section}.variant_allele_frequency":
            raise KetasimError(
                "genotype frequencies follow from the allele frequency",
                argument=f"changes.{key}",
                fix=f"change {section}.variant_allele_frequency instead",
            )
        kind = "fraction" if section in _GENOTYPE_SECTIONS else _SECTIONS[section][key.split(".", 1)[1]][0]
        params[key] = _changed(params[key], value, key, kind)
        if section in _GENOTYPE_SECTIONS:
            q = params[key].value
            for g, f in zip(_GENOTYPE_SECTIONS[section], ((1 - q) ** 2, 2 * q * (1 - q), q * q), strict=True):
                params[f"{section}.{g}"] = Param(
                    f,
                    "",
                    f"Hardy-Weinberg from variant allele frequency {q:g} ({params[key].source})",
                    Status.DERIVED,
                    name=f"{spec.name}.{section}.{g}",
                )
    _check_consistency(params, "changes")
    return PopulationSpec(spec.name, spec.description, params, variability, spec.path)


def _changed(old: Param, value: float | Param, key: str, kind: str) -> Param:
    if isinstance(value, Param):
        new = value
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise KetasimError(f"expected a number or a Param, got {value!r}", argument=f"changes.{key}")
    else:
        new = Param(float(value), old.unit, "scenario override", Status.ASSUMED, name=old.name)
    _check_range_param(new, f"changes.{key}", kind)
    return new


def _check_range_param(param: Param, where: str, kind: str) -> None:
    _, label, lo, hi = _KINDS[kind]
    if not lo <= param.value <= hi:
        raise KetasimError(
            f"value {param.value:g} is outside the plausible range [{lo}, {hi}] {label}".rstrip(),
            argument=where,
        )


# --------------------------------------------------------------------------------------------- sampling


def truncated_normal_ppf(u: np.ndarray, mean: float, sd: float, lower: float, upper: float) -> np.ndarray:
    """Inverse CDF of Normal(mean, sd) truncated to [lower, upper], at uniforms ``u`` in [0, 1).

    x = mean + sd * Phi^-1(Phi(a) + u (Phi(b) - Phi(a))), a and b the standardised bounds. When both
    bounds lie above the mean the mirror image is used, so upper-tail intervals keep their precision.
    Infinite bounds give the untruncated normal.
    """
    u = np.asarray(u, dtype=float)
    a = (lower - mean) / sd
    b = (upper - mean) / sd
    flip = a > 0
    if flip:
        a, b = -b, -a
    pa, pb = special.ndtr(a), special.ndtr(b)
    p = np.clip(pa + u * (pb - pa), np.finfo(float).tiny, np.nextafter(1.0, 0.0))
    z = np.clip(special.ndtri(p), a, b)
    if flip:
        z = -z
    return mean + sd * z


def _lognormal_moments(mean: float, sd: float) -> tuple[float, float]:
    """ln-scale (mu, sigma) of a lognormal with arithmetic ``mean`` and ``sd``."""
    s2 = math.log1p((sd / mean) ** 2)
    return math.log(mean) - s2 / 2, math.sqrt(s2)


def _check_n_seed(n: Any, seed: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise KetasimError(f"expected a whole number of patients, got {n!r}", argument="n")
    if n < 1:
        raise KetasimError(f"must be at least 1, got {n}", argument="n")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise KetasimError(f"expected an integer seed, got {seed!r}", argument="seed")
    if seed < 0:
        raise KetasimError(f"must be zero or positive, got {seed}", argument="seed")
    return int(n)


def sample(
    spec: PopulationSpec, n: int, seed: int, overrides: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Draw ``n`` virtual patients from ``spec`` with ``numpy.random.default_rng(seed)``.

    Returns a DataFrame, one row per patient (index ``patient``), columns as in the module docstring;
    ``attrs`` hold the population name, seed, units and the provenance records of every parameter.

    ``overrides`` maps a column name to:

    - a scalar (``{"cyp2b6": "*6/*6"}``, ``{"weight_kg": 70}``, ``{"fh_aud": True}``): every patient gets it;
    - an array of ``n`` values: one per patient;
    - ``{"shift": x}`` or ``{"scale": x}`` (numeric columns): added to or multiplying the sampled values.

    The random draws do not depend on the overrides (common random numbers), so two scenarios with the
    same seed differ only in what was overridden and what follows from it. Sex drives height;
    height and BMI give weight. An overridden weight keeps height and recomputes BMI (or, with BMI also
    overridden, recomputes height); overriding weight, BMI and height together is refused.
    """
    if not isinstance(spec, PopulationSpec):
        raise KetasimError(
            f"expected a PopulationSpec, got {type(spec).__name__}",
            argument="spec",
            fix="load one with load_population('trd')",
        )
    n = _check_n_seed(n, seed)
    overrides = dict(overrides or {})
    valid = spec.columns
    for key in overrides:
        if key not in valid:
            near = suggest(str(key), valid)
            raise KetasimError(
                f"unknown field '{key}'",
                argument="overrides",
                fix=(f"did you mean '{near}'? " if near else "") + "valid fields: " + ", ".join(valid),
            )
    if {"weight_kg", "bmi_kg_m2", "height_cm"} <= set(overrides):
        raise KetasimError(
            "weight_kg, bmi_kg_m2 and height_cm cannot all be overridden (weight = BMI x height^2)",
            argument="overrides",
            fix="override at most two of them",
        )

    rng = np.random.default_rng(int(seed))
    # fixed order of draws, independent of the overrides
    u_sex = rng.random(n)
    u_height = rng.random(n)
    u_bmi = rng.random(n)
    u_age = rng.random(n)
    u_cyp = rng.random(n)
    u_bdnf = rng.random(n)
    u_fh = rng.random(n)
    u_madrs = rng.random(n)
    z_eta = {k: rng.standard_normal(n) for k in sorted(spec.variability)}

    female = u_sex < spec["sex.female_fraction"]
    if "sex" in overrides:
        female = _categorical_override("sex", overrides["sex"], SEXES, n, _sex_alias) == 0

    inf = math.inf
    z_h = truncated_normal_ppf(u_height, 0.0, 1.0, -inf, inf)
    height = np.where(
        female,
        spec["height.female_mean"] + spec["height.female_sd"] * z_h,
        spec["height.male_mean"] + spec["height.male_sd"] * z_h,
    )
    height = _numeric_override("height_cm", overrides, height, n)

    mu, sigma = _lognormal_moments(spec["bmi.mean"], spec["bmi.sd"])
    lo = spec.params["bmi.lower"].value if "bmi.lower" in spec.params else 0.0
    hi = spec.params["bmi.upper"].value if "bmi.upper" in spec.params else inf
    log_lo = math.log(lo) if lo > 0 else -inf
    bmi = np.exp(truncated_normal_ppf(u_bmi, mu, sigma, log_lo, math.log(hi) if hi < inf else inf))
    bmi = _numeric_override("bmi_kg_m2", overrides, bmi, n)

    h_m = height / 100.0
    weight = bmi * h_m * h_m
    if "weight_kg" in overrides:
        weight = _numeric_override("weight_kg", overrides, weight, n)
        if "bmi_kg_m2" in overrides:
            height = 100.0 * np.sqrt(weight / bmi)
            _check_range("height_cm", height, "derived from the overridden weight and BMI")
        else:
            bmi = weight / (h_m * h_m)
            _check_range("bmi_kg_m2", bmi, "derived from the overridden weight")

    age = truncated_normal_ppf(u_age, spec["age.mean"], spec["age.sd"], spec["age.lower"], spec["age.upper"])
    age = _numeric_override("age_y", overrides, age, n)

    cyp = _genotype_codes(u_cyp, spec.genotype_frequencies("cyp2b6"))
    if "cyp2b6" in overrides:
        cyp = _categorical_override("cyp2b6", overrides["cyp2b6"], CYP2B6_GENOTYPES, n, _cyp_alias)
    bdnf = _genotype_codes(u_bdnf, spec.genotype_frequencies("bdnf"))
    if "bdnf" in overrides:
        bdnf = _categorical_override("bdnf", overrides["bdnf"], BDNF_GENOTYPES, n, _bdnf_alias)

    fh = u_fh < spec["fh_aud.fraction"]
    if "fh_aud" in overrides:
        fh = _bool_override("fh_aud", overrides["fh_aud"], n)

    madrs = truncated_normal_ppf(
        u_madrs,
        spec["madrs_baseline.mean"],
        spec["madrs_baseline.sd"],
        spec["madrs_baseline.lower"],
        spec["madrs_baseline.upper"],
    )
    madrs = _numeric_override("madrs_baseline", overrides, madrs, n)

    columns: dict[str, Any] = {
        "sex": pd.Categorical.from_codes(np.where(female, 0, 1), categories=list(SEXES)),
        "age_y": age,
        "height_cm": height,
        "bmi_kg_m2": bmi,
        "weight_kg": weight,
        "cyp2b6": pd.Categorical.from_codes(cyp, categories=list(CYP2B6_GENOTYPES)),
        "bdnf": pd.Categorical.from_codes(bdnf, categories=list(BDNF_GENOTYPES)),
        "fh_aud": fh,
        "madrs_baseline": madrs,
    }
    for name, z in z_eta.items():
        v = spec.variability[name]
        eta = 1.0 + v.omega * z if v.family == "normal" else np.exp(v.omega * z)
        col = f"eta_{name}"
        columns[col] = _numeric_override(col, overrides, eta, n, positive=True)

    frame = pd.DataFrame(columns, index=pd.RangeIndex(n, name="patient"))
    frame.attrs.update(
        {
            "population": spec.name,
            "seed": int(seed),
            "units": {**COLUMN_UNITS, **{f"eta_{k}": "factor" for k in spec.variability}},
            "overrides": sorted(overrides),
            "sources": spec.records(),
        }
    )
    return frame


def _genotype_codes(u: np.ndarray, freqs: Mapping[str, float]) -> np.ndarray:
    cum = np.cumsum(list(freqs.values()))
    cum[-1] = 1.0  # guard against rounding: every uniform in [0, 1) maps to a genotype
    return np.searchsorted(cum, u, side="right").astype(np.int8)


def _sex_alias(value: str) -> str:
    return {"f": "F", "female": "F", "m": "M", "male": "M"}.get(value.strip().lower(), value)


def _cyp_alias(value: str) -> str:
    g = value.replace(" ", "")
    return "*1/*6" if g == "*6/*1" else g


def _bdnf_alias(value: str) -> str:
    g = value.replace(" ", "").lower()
    return {"val/val": "Val/Val", "val/met": "Val/Met", "met/val": "Val/Met", "met/met": "Met/Met"}.get(
        g, value
    )


def _categorical_override(
    column: str, value: Any, choices: Sequence[str], n: int, alias: Callable[[str], str]
) -> np.ndarray:
    where = f"overrides.{column}"
    values = [value] if isinstance(value, str) else value
    if isinstance(values, Mapping) or not isinstance(values, Sequence | np.ndarray | pd.Series):
        raise KetasimError(
            f"expected one of {', '.join(choices)} or a list of {n} of them, got {value!r}", argument=where
        )
    values = np.asarray(list(values), dtype=object)
    if values.size not in (1, n):
        raise KetasimError(f"expected 1 or {n} values, got {values.size}", argument=where)
    index = {c: i for i, c in enumerate(choices)}
    uniques, inverse = np.unique(values.astype(str), return_inverse=True)
    codes_of_unique = np.empty(uniques.size, dtype=np.int8)
    for i, v in enumerate(uniques):
        name = alias(str(v))
        if name not in index:
            raise unknown_choice(column, str(v), choices, where)
        codes_of_unique[i] = index[name]
    codes = codes_of_unique[inverse.ravel()]
    return np.broadcast_to(codes, (n,)).copy() if codes.size == 1 else codes


def _bool_override(column: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype != bool or arr.ndim > 1 or (arr.ndim == 1 and arr.size != n):
        raise KetasimError(
            f"expected True/False or a list of {n} of them, got {value!r}", argument=f"overrides.{column}"
        )
    return np.broadcast_to(arr, (n,)).copy()


def _numeric_override(
    column: str, overrides: Mapping[str, Any], sampled: np.ndarray, n: int, positive: bool = False
) -> np.ndarray:
    if column not in overrides:
        return sampled
    value = overrides[column]
    where = f"overrides.{column}"
    if isinstance(value, Mapping):
        if len(value) != 1 or next(iter(value)) not in ("value", "shift", "scale"):
            raise KetasimError(
                f"expected {{'value': x}}, {{'shift': x}} or {{'scale': x}}, got {value!r}", argument=where
            )
        how, x = next(iter(value.items()))
    else:
        how, x = "value", value
    if isinstance(x, bool | str) or (isinstance(x, np.ndarray) and x.dtype.kind not in "iuf"):
        raise KetasimError(f"expected a number, got {x!r}", argument=where)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise KetasimError(f"expected a number or {n} numbers, got {x!r}", argument=where) from None
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size != n):
        raise KetasimError(f"expected one number or {n} numbers, got shape {arr.shape}", argument=where)
    if not np.all(np.isfinite(arr)):
        raise KetasimError("values must be finite", argument=where)
    if how == "value":
        out = np.broadcast_to(arr, (n,)).astype(float)
    elif how == "shift":
        out = sampled + arr
    else:
        out = sampled * arr
    if positive and np.any(out <= 0):
        raise KetasimError("a variability factor must be positive", argument=where)
    _check_range(column, out, "overridden")
    return out


def _check_range(column: str, values: np.ndarray, what: str) -> None:
    if column not in _RANGES:
        return
    lo, hi, inclusive = _RANGES[column]
    bad = (values < lo if inclusive else values <= lo) | (values > hi)
    if np.any(bad):
        first = float(np.asarray(values)[np.argmax(bad)])
        bracket = "[" if inclusive else "("
        raise KetasimError(
            f"{what} value {first:g} is outside {bracket}{lo:g}, {hi:g}] {COLUMN_UNITS[column]}",
            argument=f"overrides.{column}",
        )


# ------------------------------------------------------------------------------------------- consumers


def apply_eta(typical: float | np.ndarray, eta: np.ndarray, family: str) -> np.ndarray:
    """Individual values from a typical value and the ``eta_<name>`` factors of a sampled frame.

    lognormal and normal: ``typical * eta``; logitnormal (a fraction in (0, 1)): the odds are scaled,
    ``p = typical * eta / (1 - typical + typical * eta)``, which keeps p in (0, 1).
    """
    if family not in FAMILIES:
        raise unknown_choice("distribution family", str(family), FAMILIES, "family")
    t = np.asarray(typical, dtype=float)
    e = np.asarray(eta, dtype=float)
    if family == "logitnormal":
        if np.any((t <= 0) | (t >= 1)):
            raise KetasimError("a logit-normal typical value must lie in (0, 1)", argument="typical")
        return t * e / (1.0 - t + t * e)
    return t * e


def to_covariates(frame: pd.DataFrame) -> Covariates:
    """The PK covariates (weight, CYP2B6 genotype) of a sampled frame, for :func:`ketasim.pk.simulate`."""
    missing = {"weight_kg", "cyp2b6"} - set(frame.columns)
    if missing:
        raise KetasimError(f"frame lacks column(s) {sorted(missing)}", argument="frame")
    return Covariates.batch(weight=frame["weight_kg"].to_numpy(), cyp2b6=frame["cyp2b6"].astype(str).tolist())
