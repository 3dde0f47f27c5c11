"""``ketasim provenance RESULT``: what produced a result file (version, git revision, scenario, seed,
parameter hashes).

RESULT is any result ketasim writes:

- a JSON document: ``ketasim trial --json`` or ``--out DIR``'s ``summary.json``, ``simulate --json``,
  ``pk --json``, ``sensitivity --json`` saved to a file, ``simulate --out DIR``'s ``provenance.json``;
- a directory written by ``trial --out`` or ``simulate --out`` (its ``summary.json`` or ``provenance.json``);
- a Parquet file of per-patient rows (``trial --out``): its own ``ketasim`` metadata if it has any, else
  the ``summary.json`` written beside it;
- a NetCDF file of a result Dataset (``Dataset.to_netcdf``): its attributes.

A file that is none of these is an error (one line, exit status 2). Fields a result does not record
(a result written before they were added) are shown as "not recorded".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ketasim.errors import KetasimError

NAME = "provenance"
NOT_RECORDED = "not recorded"
SIDE_FILES = ("summary.json", "provenance.json")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``provenance`` sub-command."""
    p = sub.add_parser(
        NAME, help="what produced a result file: version, git revision, scenario, seed, parameter hashes"
    )
    p.add_argument("result", help="a result file (JSON, Parquet, NetCDF) or an --out directory")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _not_a_result(path: Path, why: str) -> KetasimError:
    return KetasimError(
        f"'{path}' is not a ketasim result ({why})",
        argument="RESULT",
        fix="give a file written by ketasim: trial/simulate/pk --json output, summary.json, "
        "provenance.json, a trial --out Parquet file or directory",
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _not_a_result(path, "not text") from None
    except json.JSONDecodeError as exc:
        raise _not_a_result(path, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(doc, dict):
        raise _not_a_result(path, "a JSON document that is not an object")
    return doc


def _read_parquet(path: Path) -> tuple[dict[str, Any], str]:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise _not_a_result(path, f"not a readable Parquet file: {type(exc).__name__}") from None
    if b"ketasim" in meta:
        return json.loads(meta[b"ketasim"]), "parquet metadata"
    beside = path.parent / "summary.json"
    if beside.is_file():
        return _read_json(beside), f"parquet (provenance from {beside.name} beside it)"
    raise _not_a_result(path, "a Parquet file without ketasim metadata or a summary.json beside it")


def _read_netcdf(path: Path) -> dict[str, Any]:
    import xarray as xr

    try:
        with xr.open_dataset(path) as ds:
            attrs = dict(ds.attrs)
    except Exception as exc:  # xarray's engines raise various types for a file they cannot read
        raise _not_a_result(path, f"not a readable NetCDF file: {type(exc).__name__}") from None
    for key in ("scenario", "parameter_hash"):
        value = attrs.get(key)
        if isinstance(value, str) and value[:1] in "{[":
            try:
                attrs[key] = json.loads(value)
            except json.JSONDecodeError:
                pass
    return attrs


def read_result(path: str | Path) -> tuple[dict[str, Any], str]:
    """The provenance-bearing document of a result and what kind of file it came from."""
    path = Path(path)
    if path.is_dir():
        for name in SIDE_FILES:
            if (path / name).is_file():
                return _read_json(path / name), f"directory ({name})"
        raise _not_a_result(path, f"a directory without {' or '.join(SIDE_FILES)}")
    if not path.exists():
        raise KetasimError(f"no such file: {path}", argument="RESULT")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix in (".nc", ".nc4", ".netcdf"):
        return _read_netcdf(path), "netcdf"
    return _read_json(path), "json"


def provenance(doc: dict[str, Any], path: Path, kind: str) -> dict[str, Any]:
    """The provenance fields of a result document (``ketasim provenance --json``)."""
    from ketasim.provenance import record_digest

    if "ketasim_version" not in doc and isinstance(doc.get("meta"), dict):
        doc = {**doc["meta"], **doc}
    if "ketasim_version" not in doc:
        raise _not_a_result(path, "it records no ketasim_version")
    scenario = doc.get("scenario")
    if isinstance(scenario, dict):  # the whole scenario record (simulate --out, result Datasets)
        name, digest = scenario.get("name"), doc.get("scenario_hash") or record_digest(scenario)
    else:
        name, digest = scenario, doc.get("scenario_hash")
    hashes = doc.get("parameter_hash")
    if hashes is None and isinstance(doc.get("arms"), dict):
        arms = {k: a.get("parameter_hash") for k, a in doc["arms"].items() if isinstance(a, dict)}
        hashes = {k: v for k, v in arms.items() if v} or None
    if isinstance(hashes, str) and doc.get("arm"):
        hashes = {str(doc["arm"]): hashes}
    out = {
        "result": str(path),
        "kind": kind,
        "ketasim_version": doc["ketasim_version"],
        "git_revision": doc.get("git_revision", NOT_RECORDED),
        "scenario": {"name": name, "hash": digest} if (name or digest) else None,
        "seed": doc.get("seed"),
        "parameter_hash": hashes,
    }
    for key in ("clinical_parameter_hash", "ranges_hash"):
        if key in doc:
            out[key] = doc[key]
    if "compound" in doc:  # pk: no scenario, a compound and route
        out["compound"], out["route"] = doc["compound"], doc.get("route")
    return out


def _text(p: dict[str, Any]) -> str:
    sc = p["scenario"]
    hashes = p["parameter_hash"]
    if isinstance(hashes, dict):
        hashes = ", ".join(f"{k} {v}" for k, v in hashes.items())
    rows = [
        ("result", f"{p['result']} ({p['kind']})"),
        ("ketasim", p["ketasim_version"]),
        ("git revision", p["git_revision"]),
        ("scenario", f"{sc['name']} (hash {sc['hash'] or NOT_RECORDED})" if sc else NOT_RECORDED),
        ("seed", "none (deterministic)" if p["seed"] is None else p["seed"]),
        ("parameters", hashes or NOT_RECORDED),
    ]
    if "compound" in p:
        rows.insert(3, ("compound", f"{p['compound']} ({p['route']})"))
    for key, label in (("clinical_parameter_hash", "clinical"), ("ranges_hash", "ranges")):
        if key in p:
            rows.append((label, p[key]))
    return "\n".join(f"{k:<13}{v}" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    """Print the provenance of ``args.result``; a file that is not a ketasim result exits with 2."""
    path = Path(args.result)
    doc, kind = read_result(path)
    p = provenance(doc, path, kind)
    print(json.dumps(p) if args.json else _text(p))
    return 0
