"""NONMEM-style datasets: dosing and observation records with declared units.

A dataset is a CSV file with one record per line and the columns of NONMEM / nlmixr2 event tables
(Beal S et al., *NONMEM Users Guides*, ICON 1989-2020; the rxode2 events vignette):

``ID, TIME, AMT, RATE, EVID, CMT, DV`` and optionally ``MDV, DUR, II, ADDL, SS, WT, CYP2B6,
COMPOUND, AMT_UNIT`` and any covariate columns. ``.`` or an empty field is a missing value.
The full format (units, compartment map, what is refused) is in ``docs/data_format.md``.

Units are declared, never guessed: in the file with comment lines such as ``# units: TIME=h,
AMT=mg, DV=ng/mL`` or by the caller (``units={"TIME": "h"}``; the command line's ``--units``),
the caller's declaration winning. RATE defaults to AMT/TIME, DUR and II to the TIME unit and WT to
kg. Values are converted once, here, to h, mg (or µmol for molar amounts), mg/h, kg and ng/mL
(or µM for molar concentrations).

Compartments map to a route and compound with ``# cmt: 1=iv:ketamine`` lines (or ``cmt=``); the
default for dosing records is :data:`ketasim.dosing.ROUTE_CMT` (1 iv, 2 oral, 3 intranasal, 4
sublingual, 5 im, 6 ip) with the compound from a ``COMPOUND`` column or ``compound=``. An
observation compartment is declared ``N=obs:ANALYTE``; other observation records measure the
``dv`` analyte (``# dv: S-ketamine``).

Every problem raises :class:`~ketasim.errors.KetasimError` naming the file, the data row (1 = first
record), the line and the column, and saying how to fix it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pint

from ketasim.dosing import ROUTE_ALIASES, ROUTE_CMT, ROUTES, Dose, Regimen
from ketasim.errors import KetasimError, suggest, unknown_choice
from ketasim.physiology import CYP2B6_GENOTYPES
from ketasim.units import ureg

REQUIRED = ("ID", "TIME", "AMT", "EVID", "CMT")
NUMERIC = ("ID", "TIME", "AMT", "RATE", "EVID", "CMT", "DV", "MDV", "DUR", "II", "ADDL", "SS", "WT")
KNOWN = (*NUMERIC, "COMPOUND", "AMT_UNIT", "CYP2B6")
UNIT_COLUMNS = ("TIME", "AMT", "RATE", "DV", "DUR", "II", "WT")
MISSING = ("", ".", "NA", "NaN", "nan")
MAX_ADDL = 10_000

TIME_UNIT = "h"
MASS_CONC_UNIT = "ng/mL"
MOLAR_CONC_UNIT = "uM"


@dataclass(frozen=True)
class CmtMap:
    """What a compartment number means: a dosing route (and compound) or an observed analyte."""

    route: str | None = None
    compound: str | None = None
    analyte: str | None = None


@dataclass(frozen=True)
class PKDataset:
    """A validated dataset in canonical units.

    ``records`` has one row per input record (doses with ADDL expanded) and the columns ``ID, TIME``
    (h), ``AMT`` (``amount_unit``), ``DURATION`` (h, 0 for a bolus), ``EVID``, ``CMT``, ``DV``
    (``dv_unit``), ``MDV``, ``ROUTE``, ``COMPOUND``, ``ANALYTE``, ``ROW`` and ``LINE`` (where the record
    came from), ``WT`` (kg, if given) and the covariate columns.
    """

    records: pd.DataFrame
    dv_unit: str
    amount_unit: str
    units: dict[str, str]
    covariates: tuple[str, ...]
    source: str = "<data>"
    cmt_map: dict[int, CmtMap] = field(default_factory=dict)

    @property
    def ids(self) -> list:
        return list(dict.fromkeys(self.records["ID"].tolist()))

    def doses(self, subject) -> pd.DataFrame:
        r = self.records
        return r[(r["ID"] == subject) & (r["EVID"] == 1)]

    def observations(self, subject=None) -> pd.DataFrame:
        """Observation records (EVID 0, MDV 0, DV present), of one subject or all."""
        r = self.records
        keep = (r["EVID"] == 0) & (r["MDV"] == 0) & r["DV"].notna()
        if subject is not None:
            keep &= r["ID"] == subject
        return r[keep]

    def regimen(self, subject) -> Regimen:
        """The dosing records of ``subject`` as a :class:`~ketasim.dosing.Regimen`."""
        doses = []
        for rec in self.doses(subject).itertuples(index=False):
            doses.append(
                Dose(
                    rec.COMPOUND,
                    float(rec.AMT),
                    rec.ROUTE,
                    float(rec.TIME),
                    float(rec.DURATION),
                    per_kg=False,
                    in_moles=self.amount_unit == "umol",
                )
            )
        return Regimen(tuple(doses))

    def weight(self, subject, default: float) -> float:
        """Body weight of ``subject`` (kg): its first non-missing WT, else ``default``."""
        if "WT" not in self.records:
            return default
        w = self.records.loc[self.records["ID"] == subject, "WT"].dropna()
        return float(w.iloc[0]) if len(w) else default

    def covariate(self, subject, name: str):
        """The first non-missing value of covariate ``name`` for ``subject`` (None if absent)."""
        if name not in self.records:
            return None
        v = self.records.loc[self.records["ID"] == subject, name].dropna()
        return v.iloc[0] if len(v) else None

    def analytes(self) -> list[str]:
        return sorted(set(self.observations()["ANALYTE"].dropna()))

    def summary(self) -> dict:
        """Counts and ranges for ``ketasim data check``."""
        obs = self.observations()
        dos = self.records[self.records["EVID"] == 1]
        return {
            "source": self.source,
            "subjects": len(self.ids),
            "records": len(self.records),
            "doses": len(dos),
            "observations": len(obs),
            "time_range_h": [float(self.records["TIME"].min()), float(self.records["TIME"].max())]
            if len(self.records)
            else None,
            "compounds": sorted(set(dos["COMPOUND"])),
            "routes": sorted(set(dos["ROUTE"])),
            "analytes": self.analytes(),
            "amount_unit": self.amount_unit,
            "dv_unit": self.dv_unit,
            "declared_units": dict(self.units),
            "covariates": list(self.covariates),
            "weight_kg_range": [float(self.records["WT"].min()), float(self.records["WT"].max())]
            if "WT" in self.records and self.records["WT"].notna().any()
            else None,
        }


# --------------------------------------------------------------------------- declarations


def parse_units(text: str | Mapping[str, str] | None, argument: str = "--units") -> dict[str, str]:
    """``"TIME=h,AMT=mg,DV=ng/mL"`` (or a mapping) as ``{"TIME": "h", ...}``; column names upper-cased."""
    if text is None:
        return {}
    items = (
        text.items() if isinstance(text, Mapping) else _pairs(str(text), argument, "TIME=h,AMT=mg,DV=ng/mL")
    )
    out = {}
    for k, v in items:
        col = str(k).strip().upper()
        if col not in UNIT_COLUMNS:
            near = suggest(col, UNIT_COLUMNS)
            raise KetasimError(
                f"no unit can be declared for column '{col}'",
                argument=argument,
                fix=(f"did you mean '{near}'? " if near else "")
                + "units apply to "
                + ", ".join(UNIT_COLUMNS),
            )
        out[col] = str(v).strip()
    return out


def parse_cmt(entries, argument: str = "--cmt") -> dict[int, CmtMap]:
    """Compartment declarations ``"1=iv:ketamine"``, ``"2=oral"``, ``"7=obs:S-ketamine"`` (a list, a
    comma-separated string or a mapping) as ``{CMT: CmtMap}``."""
    if entries is None:
        return {}
    if isinstance(entries, Mapping):
        pairs = [(str(k), str(v)) for k, v in entries.items()]
    else:
        items = [entries] if isinstance(entries, str) else list(entries)
        pairs = [p for e in items for p in _pairs(str(e), argument, "1=iv:ketamine")]
    out: dict[int, CmtMap] = {}
    for k, v in pairs:
        try:
            n = int(k.strip())
        except ValueError:
            raise KetasimError(
                f"compartment '{k}' is not a whole number", argument=argument, fix="e.g. 1=iv:ketamine"
            ) from None
        what, _, name = v.strip().partition(":")
        what, name = what.strip().lower(), name.strip()
        if what in ("obs", "observation"):
            if not name:
                raise KetasimError(
                    f"observation compartment {n} needs an analyte",
                    argument=argument,
                    fix=f"e.g. {n}=obs:S-ketamine",
                )
            out[n] = CmtMap(analyte=name)
        elif what in ROUTE_ALIASES:
            out[n] = CmtMap(route=ROUTE_ALIASES[what], compound=name or None)
        else:
            raise unknown_choice("compartment role", what, (*ROUTES, "obs"), argument)
    return out


def _pairs(text: str, argument: str, example: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise KetasimError(
                f"'{part.strip()}' is not NAME=VALUE", argument=argument, fix=f"e.g. {example}"
            )
        k, v = part.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


# --------------------------------------------------------------------------- reading


def read_dataset(
    path: str | Path,
    units: str | Mapping[str, str] | None = None,
    cmt=None,
    dv: str | None = None,
    compound: str | None = None,
) -> PKDataset:
    """Read and validate the CSV dataset at ``path`` (see :func:`parse_dataset`)."""
    p = Path(path)
    if not p.is_file():
        raise KetasimError(f"no such file '{path}'", argument="dataset", fix="give the path of a CSV file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise KetasimError(
            f"cannot read '{path}': {exc}", argument="dataset", fix="save it as UTF-8 CSV"
        ) from None
    return parse_dataset(text, units=units, cmt=cmt, dv=dv, compound=compound, source=p.name)


def from_frame(
    frame: pd.DataFrame,
    units: str | Mapping[str, str] | None = None,
    cmt=None,
    dv: str | None = None,
    compound: str | None = None,
    source: str = "<frame>",
) -> PKDataset:
    """Validate an in-memory event table (e.g. from :meth:`Regimen.to_event_table`)."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return parse_dataset(buf.getvalue(), units=units, cmt=cmt, dv=dv, compound=compound, source=source)


def parse_dataset(
    text: str,
    units: str | Mapping[str, str] | None = None,
    cmt=None,
    dv: str | None = None,
    compound: str | None = None,
    source: str = "<data>",
) -> PKDataset:
    """Parse and validate dataset text. Declarations given here override the file's ``#`` lines."""
    header: dict[str, str] = {}
    rows: list[list[str]] = []
    lines: list[int] = []
    columns: list[str] | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            key, sep, value = s.lstrip("#").partition(":")
            key = key.strip().lower()
            if sep and key in ("units", "cmt", "dv", "compound"):
                header[key] = (header[key] + "," if key in header else "") + value.strip()
            continue
        try:
            fields = next(csv.reader([line]))
        except csv.Error as exc:
            raise KetasimError(f"line {lineno}: {exc}", argument=source, fix="check the quoting") from None
        fields = [f.strip() for f in fields]
        if columns is None:
            columns = [f.upper() for f in fields]
            header_line = lineno
            continue
        if len(fields) != len(columns):
            raise KetasimError(
                f"row {len(rows) + 1} (line {lineno}) has {len(fields)} fields, "
                f"the header has {len(columns)}",
                argument=source,
                fix="give every record one value per column (use '.' for missing)",
            )
        rows.append(fields)
        lines.append(lineno)
    if columns is None:
        raise KetasimError("no header line and no records", argument=source, fix="start with ID,TIME,AMT,...")
    where = f"{source} line {header_line}"
    for c in columns:
        if not c:
            raise KetasimError("a column has no name", argument=where, fix="name every column in the header")
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        raise KetasimError(f"column(s) {dup} appear twice", argument=where, fix="keep one of each")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        near = {c: suggest(c, [x for x in columns if x not in KNOWN]) for c in missing}
        hint = "; ".join(f"'{v}' for {k}?" for k, v in near.items() if v)
        raise KetasimError(
            f"missing column(s) {missing}",
            argument=where,
            fix=(f"rename {hint} " if hint else "") + "a dataset needs " + ", ".join(REQUIRED) + " (and DV)",
        )
    if not rows:
        raise KetasimError("no records", argument=source, fix="add dosing and observation rows")
    if "DV" not in columns:  # a dosing-only table (e.g. Regimen.to_event_table) may omit DV
        evid_at = columns.index("EVID")
        for k, r in enumerate(rows):
            if r[evid_at] in ("0", "0.0"):
                raise KetasimError(
                    f"missing column(s) ['DV'] but row {k + 1} (line {lines[k]}) is an observation (EVID 0)",
                    argument=where,
                    fix="add a DV column with the measured concentrations",
                )
        columns = [*columns, "DV"]
        rows = [[*r, "."] for r in rows]

    declared = parse_units(header.get("units"), f"{source} '# units:' line")
    declared.update(parse_units(units))
    cmt_map = parse_cmt(header.get("cmt"), f"{source} '# cmt:' line")
    cmt_map.update(parse_cmt(cmt))
    dv_name = dv or header.get("dv", "").split(",")[-1].strip() or None
    default_compound = compound or header.get("compound", "").split(",")[-1].strip() or None

    raw = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    return _validate(raw, columns, lines, declared, cmt_map, dv_name, default_compound, source)


class _Where:
    def __init__(self, source: str, lines: list[int]):
        self.source, self.lines = source, lines

    def __call__(self, i: int, column: str) -> str:
        return f"{self.source} row {i + 1} (line {self.lines[i]}), column {column}"


def _numeric(raw: dict[str, list[str]], col: str, where: _Where) -> np.ndarray:
    vals = raw[col]
    out = np.empty(len(vals))
    for i, v in enumerate(vals):
        if v in MISSING:
            out[i] = np.nan
            continue
        try:
            x = float(v)
        except ValueError:
            raise KetasimError(
                f"'{v}' is not a number", argument=where(i, col), fix="write a number, or '.' for missing"
            ) from None
        if not math.isfinite(x):
            raise KetasimError(
                f"'{v}' is not a finite number", argument=where(i, col), fix="write a finite number"
            )
        out[i] = x
    return out


@lru_cache(maxsize=1024)
def _conversion(unit: str, target: str) -> float | str:
    """Factor from ``unit`` to ``target``, or "dimension" / "unreadable" (cached: pint parsing is slow)."""
    try:
        q = ureg.Quantity(1.0, unit.replace("µ", "u").replace("μ", "u").replace("mcg", "ug"))
        f = float(q.to(target).magnitude)
    except (pint.DimensionalityError, pint.errors.OffsetUnitCalculusError):
        return "dimension"
    except Exception:
        return "unreadable"
    return f if math.isfinite(f) and f > 0 else "unreadable"


def _factor(unit: str, target: str, kind: str, column: str, source: str) -> float:
    """Multiplier from ``unit`` to ``target`` (pint), or a KetasimError naming the column."""
    f = _conversion(unit.strip(), target)
    if f == "dimension":
        raise KetasimError(
            f"unit '{unit}' does not convert to {kind} ({target})",
            argument=f"{source} units, column {column}",
            fix=f"declare a {kind} unit, e.g. {column}={target}",
        )
    if isinstance(f, str):
        raise KetasimError(
            f"cannot read unit '{unit}'",
            argument=f"{source} units, column {column}",
            fix=f"e.g. {column}={target}",
        )
    return f


def _require_unit(declared: dict[str, str], col: str, example: str, source: str) -> str:
    if col not in declared:
        raise KetasimError(
            f"the unit of {col} is not declared",
            argument=source,
            fix=f"add a line '# units: {example}' or pass --units {example}",
        )
    return declared[col]


def _kind_of(unit: str, col: str, source: str, choices: dict[str, str]) -> tuple[str, float]:
    """Which of ``choices`` (kind -> canonical unit) ``unit`` converts to, and the factor."""
    for kind, target in choices.items():
        f = _conversion(unit.strip(), target)
        if not isinstance(f, str):
            return kind, f
    examples = " or ".join(f"{col}={t}" for t in choices.values())
    if _conversion(unit.strip(), next(iter(choices.values()))) == "unreadable":
        raise KetasimError(
            f"cannot read unit '{unit}'", argument=f"{source} units, column {col}", fix=f"e.g. {examples}"
        )
    raise KetasimError(
        f"unit '{unit}' does not convert to a {' or '.join(choices)}",
        argument=f"{source} units, column {col}",
        fix=f"declare e.g. {examples}",
    )


def _validate(raw, columns, lines, declared, cmt_map, dv_name, default_compound, source) -> PKDataset:
    where = _Where(source, lines)
    n = len(lines)
    num = {c: _numeric(raw, c, where) for c in NUMERIC if c in raw}
    for c in ("ID", "TIME", "EVID"):
        bad = np.where(np.isnan(num[c]))[0]
        if bad.size:
            raise KetasimError("a value is required", argument=where(int(bad[0]), c), fix=f"fill in {c}")
    for c in ("ID", "EVID", "CMT", "MDV", "ADDL", "SS"):
        if c in num:
            v = num[c]
            bad = np.where(~np.isnan(v) & (v != np.round(v)))[0]
            if bad.size:
                raise KetasimError(
                    f"{raw[c][bad[0]]} is not a whole number",
                    argument=where(int(bad[0]), c),
                    fix="use an integer",
                )
    for c in ("TIME", "AMT", "DUR", "II", "ADDL", "WT", "DV", "ID"):
        if c in num:
            bad = np.where(num[c] < 0)[0]
            if bad.size:
                raise KetasimError(
                    f"{raw[c][bad[0]]} is negative",
                    argument=where(int(bad[0]), c),
                    fix=f"{c} must be zero or positive",
                )
    evid = num["EVID"]
    bad = np.where(~np.isin(evid, (0, 1, 2)))[0]
    if bad.size:
        e = int(evid[bad[0]])
        raise KetasimError(
            f"EVID {e} is not supported" if e in (3, 4) else f"EVID {e} is not a NONMEM event type",
            argument=where(int(bad[0]), "EVID"),
            fix="use 0 (observation), 1 (dose) or 2 (other); resets (3, 4) are not modelled",
        )
    if "SS" in num:
        bad = np.where(np.nan_to_num(num["SS"]) != 0)[0]
        if bad.size:
            raise KetasimError(
                "steady-state doses (SS) are not supported",
                argument=where(int(bad[0]), "SS"),
                fix="expand the doses explicitly or with ADDL and II",
            )
    dose = evid == 1
    obs = evid == 0
    ids = num["ID"]
    time = num["TIME"]
    # subjects contiguous, time non-decreasing within a subject
    for i in range(1, n):
        if ids[i] != ids[i - 1]:
            continue
        if time[i] < time[i - 1]:
            raise KetasimError(
                f"TIME {raw['TIME'][i]} is earlier than the previous record of ID {raw['ID'][i]} "
                f"({raw['TIME'][i - 1]})",
                argument=where(i, "TIME"),
                fix="sort the records of each ID by TIME",
            )
    starts = np.r_[True, ids[1:] != ids[:-1]]
    first_seen: dict[float, int] = {}
    for i in np.where(starts)[0]:
        if ids[i] in first_seen:
            raise KetasimError(
                f"ID {raw['ID'][i]} appears again after other IDs (first at row {first_seen[ids[i]] + 1})",
                argument=where(int(i), "ID"),
                fix="keep each subject's records together, sorted by ID then TIME",
            )
        first_seen[ids[i]] = int(i)

    # units
    t_unit = _require_unit(declared, "TIME", "TIME=h", source)
    t_factor = _factor(t_unit, "hour", "time", "TIME", source)
    time = time * t_factor
    amt = num["AMT"]
    amount_unit, a_factor = "mg", 1.0
    if dose.any():
        bad = np.where(dose & np.isnan(amt))[0]
        if bad.size:
            raise KetasimError(
                "a dose needs an amount", argument=where(int(bad[0]), "AMT"), fix="fill in AMT"
            )
        if "AMT_UNIT" in raw:
            per_row = [raw["AMT_UNIT"][i].lower() for i in np.where(dose)[0]]
            if len(set(per_row)) > 1:
                i = int(np.where(dose)[0][[u != per_row[0] for u in per_row].index(True)])
                raise KetasimError(
                    "mixed AMT_UNIT values", argument=where(i, "AMT_UNIT"), fix="give every dose in one unit"
                )
            declared.setdefault("AMT", per_row[0])
        a_unit = _require_unit(declared, "AMT", "AMT=mg", source)
        kind, a_factor = _kind_of(a_unit, "AMT", source, {"mass": "mg", "amount": "umol"})
        amount_unit = "mg" if kind == "mass" else "umol"
    amt = np.where(dose, amt * a_factor, np.nan)

    dv = num["DV"]
    mdv = num["MDV"] if "MDV" in num else np.where(obs & ~np.isnan(dv), 0.0, 1.0)
    mdv = np.where(np.isnan(mdv), np.where(obs & ~np.isnan(dv), 0.0, 1.0), mdv)
    bad = np.where(~np.isin(mdv, (0, 1)))[0]
    if bad.size:
        raise KetasimError("MDV must be 0 or 1", argument=where(int(bad[0]), "MDV"), fix="use 0 or 1")
    bad = np.where(obs & (mdv == 0) & np.isnan(dv))[0]
    if bad.size:
        raise KetasimError(
            "an observation (EVID 0, MDV 0) has no DV",
            argument=where(int(bad[0]), "DV"),
            fix="fill in DV or set MDV=1",
        )
    dv_unit = MASS_CONC_UNIT
    if (obs & (mdv == 0)).any():
        d_unit = _require_unit(declared, "DV", "DV=ng/mL", source)
        kind, d_factor = _kind_of(
            d_unit, "DV", source, {"mass concentration": "ng/mL", "molar concentration": "uM"}
        )
        dv_unit = MASS_CONC_UNIT if kind == "mass concentration" else MOLAR_CONC_UNIT
        dv = dv * d_factor

    # infusions: RATE (AMT/TIME unit), RATE=-2 with DUR, or DUR alone
    duration = np.zeros(n)
    rate = num.get("RATE", np.full(n, np.nan))
    durcol = num.get("DUR", np.full(n, np.nan))
    d_factor = _factor(declared.get("DUR", t_unit), "hour", "time", "DUR", source) if "DUR" in num else 1.0
    r_factor = 1.0
    if "RATE" in num and (dose & (np.nan_to_num(rate) > 0)).any():
        r_unit = declared.get("RATE", f"({declared.get('AMT', 'mg')})/({t_unit})")
        r_factor = _factor(
            r_unit, f"{amount_unit}/h" if amount_unit == "mg" else "umol/h", "rate", "RATE", source
        )
    for i in np.where(dose)[0]:
        r = rate[i]
        if not np.isnan(r) and r != 0:
            if r == -2:
                if np.isnan(durcol[i]) or durcol[i] <= 0:
                    raise KetasimError(
                        "RATE=-2 needs a positive DUR", argument=where(int(i), "DUR"), fix="fill in DUR"
                    )
                duration[i] = durcol[i] * d_factor
            elif r < 0:
                raise KetasimError(
                    f"RATE {raw['RATE'][i]} (a modelled rate or duration) is not supported",
                    argument=where(int(i), "RATE"),
                    fix="give the rate in AMT per TIME unit, or RATE=-2 with DUR",
                )
            else:
                duration[i] = amt[i] / (r * r_factor)
        elif not np.isnan(durcol[i]) and durcol[i] > 0:
            duration[i] = durcol[i] * d_factor

    # ADDL / II
    addl = np.nan_to_num(num.get("ADDL", np.zeros(n)))
    ii = num.get("II", np.full(n, np.nan))
    ii_factor = _factor(declared.get("II", t_unit), "hour", "time", "II", source) if "II" in num else 1.0
    if "ADDL" in num and "II" not in num and (addl > 0).any():
        i = int(np.where(addl > 0)[0][0])
        raise KetasimError(
            "ADDL without an II column", argument=where(i, "ADDL"), fix="add II, the dosing interval"
        )
    for i in np.where(addl > 0)[0]:
        if not dose[i]:
            raise KetasimError(
                "ADDL on a record that is not a dose", argument=where(int(i), "ADDL"), fix="set ADDL=0"
            )
        if np.isnan(ii[i]) or ii[i] <= 0:
            raise KetasimError("ADDL needs a positive II", argument=where(int(i), "II"), fix="fill in II")
        if addl[i] > MAX_ADDL:
            raise KetasimError(
                f"ADDL {raw['ADDL'][i]} is too many doses",
                argument=where(int(i), "ADDL"),
                fix=f"use at most {MAX_ADDL}",
            )
        if ii[i] * ii_factor < duration[i]:
            raise KetasimError(
                "II is shorter than the infusion", argument=where(int(i), "II"), fix="doses would overlap"
            )

    # compartments
    cmt = num["CMT"]
    route = np.full(n, None, dtype=object)
    comp = np.full(n, None, dtype=object)
    analyte = np.full(n, None, dtype=object)
    default_route = {v: k for k, v in ROUTE_CMT.items()}
    compound_col = raw.get("COMPOUND")
    for i in np.where(dose)[0]:
        if np.isnan(cmt[i]):
            raise KetasimError("a dose needs a compartment", argument=where(int(i), "CMT"), fix="fill in CMT")
        c = int(cmt[i])
        m = cmt_map.get(c)
        if m is not None and m.analyte is not None:
            raise KetasimError(
                f"CMT {c} is declared an observation compartment", argument=where(int(i), "CMT"),
                fix=f"declare a dosing route for it, e.g. --cmt {c}=iv:COMPOUND",
            )  # fmt: skip
        r = m.route if m is not None else default_route.get(c)
        if r is None:
            raise KetasimError(
                f"CMT {c} is not a known dosing compartment",
                argument=where(int(i), "CMT"),
                fix=f"declare it, e.g. '# cmt: {c}=iv:ketamine' (defaults: "
                + ", ".join(f"{k}={v}" for k, v in sorted(default_route.items()))
                + ")",
            )
        name = (m.compound if m is not None else None) or (
            compound_col[i] if compound_col and compound_col[i] not in MISSING else None
        )
        name = name or default_compound
        if not name:
            raise KetasimError(
                "the dosed compound is not known",
                argument=where(int(i), "CMT"),
                fix=f"add a COMPOUND column, '# compound: ketamine', or declare '# cmt: {c}={r}:ketamine'",
            )
        if duration[i] > 0 and r != "iv":
            raise KetasimError(
                f"an infusion (RATE or DUR) on route '{r}'",
                argument=where(int(i), "RATE" if "RATE" in raw else "DUR"),
                fix="infusions are intravenous only: set RATE=0 or use an iv compartment",
            )  # fmt: skip
        route[i], comp[i] = r, name
    for i in np.where(obs & (mdv == 0))[0]:
        m = cmt_map.get(int(cmt[i])) if not np.isnan(cmt[i]) else None
        a = m.analyte if m is not None and m.analyte else dv_name
        if not a:
            raise KetasimError(
                "the measured analyte is not known",
                argument=where(int(i), "DV"),
                fix="declare it with '# dv: S-ketamine' or --dv S-ketamine",
            )
        analyte[i] = a

    # covariates
    covs = [c for c in columns if c not in KNOWN]
    frame = {
        "ID": ids.astype(np.int64),
        "TIME": time,
        "AMT": amt,
        "DURATION": duration,
        "EVID": evid.astype(np.int64),
        "CMT": cmt,
        "DV": np.where(obs, dv, np.nan),
        "MDV": mdv.astype(np.int64),
        "ROUTE": route,
        "COMPOUND": comp,
        "ANALYTE": analyte,
        "ROW": np.arange(1, n + 1),
        "LINE": np.asarray(lines),
    }
    if "WT" in num:
        w_factor = _factor(declared.get("WT", "kg"), "kilogram", "mass", "WT", source)
        wt = num["WT"] * w_factor
        bad = np.where(~np.isnan(wt) & ((wt <= 0) | (wt > 400)))[0]
        if bad.size:
            raise KetasimError(
                f"body weight {raw['WT'][bad[0]]} is outside (0, 400] kg", argument=where(int(bad[0]), "WT"),
                fix="give WT in kg, or declare its unit",
            )  # fmt: skip
        frame["WT"] = wt
    if "CYP2B6" in raw:
        g = np.array([v if v not in MISSING else None for v in raw["CYP2B6"]], dtype=object)
        for i, v in enumerate(g):
            if v is not None and v not in CYP2B6_GENOTYPES:
                raise unknown_choice("CYP2B6 genotype", v, CYP2B6_GENOTYPES, where(i, "CYP2B6"))
        frame["CYP2B6"] = g
    for c in covs:
        vals = raw[c]
        try:
            frame[c] = np.array([np.nan if v in MISSING else float(v) for v in vals])
        except ValueError:
            frame[c] = np.array([None if v in MISSING else v for v in vals], dtype=object)
    records = pd.DataFrame(frame)
    # ADDL expansion
    extra = []
    for i in np.where(addl > 0)[0]:
        k = np.arange(1, int(addl[i]) + 1)
        rep = records.iloc[np.repeat(i, k.size)].copy()
        rep["TIME"] = records["TIME"].iat[i] + k * ii[i] * ii_factor
        extra.append(rep)
    if extra:
        records = pd.concat([records, *extra])
        records = records.sort_values(["ID", "TIME", "ROW"], kind="stable").reset_index(drop=True)
    all_units = {c: declared[c] for c in UNIT_COLUMNS if c in declared}
    return PKDataset(records, dv_unit, amount_unit, all_units, tuple(covs), source, dict(cmt_map))
