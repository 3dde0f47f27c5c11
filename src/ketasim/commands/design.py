"""``ketasim design [PROPERTY=VALUE ...]``: a hypothetical compound's predicted profile beside ketamine.

Examples::

    ketasim design ic50=1 uM trapped_fraction=0.5 t_half=12 h --route oral --dose 1 mg/kg
    ketasim design --sweep trapped_fraction=0:0.95 --points 7 --n 100 --plot trapping.png

Properties change a base compound (``--base``, default racemic ketamine); see ``ketasim design
--list`` and :mod:`ketasim.design`.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "design"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``design`` sub-command."""
    p = sub.add_parser(
        NAME,
        help="a hypothetical compound by its properties: predicted onset, duration, response and "
        "dissociation beside ketamine 0.5 mg/kg over 40 min",
        description="Change properties of a base compound (PROPERTY=VALUE, units where physical, e.g. "
        "ic50=1 uM, t_half=12 h, trapped_fraction=0.5) and run a small virtual trial. A value with a space "
        "needs quotes or may be written without it (ic50=1uM).",
    )
    p.add_argument("properties", nargs="*", metavar="PROPERTY=VALUE", help="properties to change")

    # Options take one or more words, so that a unit may follow without quotes (--dose 1 mg/kg) and
    # PROPERTY=VALUE words may come after options; :func:`_regroup` sorts the words out.
    def words(metavar: str) -> dict:
        return {"nargs": "+", "metavar": metavar}

    p.add_argument("--base", **words("COMPOUND"), help="compound to start from (default: ketamine)")
    p.add_argument("--dose", **words("AMOUNT"), help="amount, e.g. 0.5 mg/kg or 50 mg (default 0.5 mg/kg)")
    p.add_argument("--route", **words("ROUTE"), help="iv, im, intranasal, oral, sublingual (default iv)")
    p.add_argument(
        "--duration", **words("TIME"), help="IV infusion duration (default 40 min for the default dose)"
    )
    p.add_argument("--n", **words("N"), help="patients per arm (default 200; 100 in a sweep)")
    p.add_argument("--seed", **words("SEED"), help="random seed (default 0)")
    p.add_argument("--horizon", **words("TIME"), help="follow-up (default 14 d)")
    p.add_argument(
        "--sweep", **words("PROPERTY=LO:HI"), help="vary one property: PROPERTY=LO:HI, e.g. t_half=8:48 h"
    )
    p.add_argument("--points", **words("N"), help="values in a sweep (default 7)")
    p.add_argument("--log", action="store_true", help="space sweep values geometrically")
    p.add_argument("--plot", **words("FILE.png"), help="write the sweep plot to this PNG file")
    p.add_argument("--save", **words("DIR"), help="write the designed compound files to this directory")
    p.add_argument("--list", action="store_true", help="list the properties and exit")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _merge_spaces(items: list[str]) -> list[str]:
    """Join ``ic50=1 uM`` typed without quotes (argv ['ic50=1', 'uM']) back into one assignment."""
    out: list[str] = []
    for it in items:
        if "=" not in it and out:
            out[-1] = f"{out[-1]} {it}"
        else:
            out.append(it)
    return out


WORD_OPTIONS = (
    "base",
    "dose",
    "route",
    "duration",
    "n",
    "seed",
    "horizon",
    "sweep",
    "points",
    "plot",
    "save",
)


def _regroup(args: argparse.Namespace) -> None:
    """Join each option's words into one value; PROPERTY=VALUE words after an option go back to the
    properties (argparse gives them to the option). Whole numbers are checked here."""
    from ketasim.errors import KetasimError

    for name in WORD_OPTIONS:
        words = getattr(args, name)
        if words is None:
            continue
        first = 1 if name == "sweep" else 0  # the sweep's own value is PROPERTY=LO:HI
        cut = next((i for i, w in enumerate(words) if i >= first and "=" in w), len(words))
        args.properties = [*args.properties, *words[cut:]]
        setattr(args, name, " ".join(words[:cut]) or None)
    for name in ("n", "seed", "points"):
        value = getattr(args, name)
        if value is not None:
            try:
                setattr(args, name, int(value))
            except ValueError:
                raise KetasimError(f"'{value}' is not a whole number", argument=f"--{name}") from None


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


ROWS = (
    ("response at 24 h", "response_24h"),
    ("response at day 7", "response_7d"),
    ("onset (h)", "onset_h"),
    ("duration (d)", "duration_d"),
    ("peak dissociation, CADSS", "dissociation_peak_mean"),
    ("peak systolic rise, mmHg", "systolic_rise_peak_mean"),
)
EXPOSURE_ROWS = (
    ("plasma Cmax, ng/mL", "plasma_cmax_ng_ml"),
    ("plasma AUC, ng h/mL", "plasma_auc_ng_h_ml"),
    ("plasma half-life, h", "plasma_t_half_h"),
    ("bioavailability", "bioavailability"),
    ("brain ECF Cmax, uM", "brain_ecf_cmax_um"),
    ("peak NMDA block, pyramidal", "nmda_block_pyramidal_peak"),
)


def _table(doc: dict) -> str:
    cols = [("designed", doc["designed"]), ("ketamine", doc["ketamine"]), ("saline", doc["saline"])]
    lines = [
        f"designed from {doc['base']}: {doc['regimen']}; reference ketamine 0.5 mg/kg iv over 40 min; "
        f"n {doc['n']} per arm, seed {doc['seed']}, same patients in every arm",
        f"{'':30s}" + "".join(f"{c:>12s}" for c, _ in cols),
    ]
    for label, key in ROWS:
        lines.append(f"{label:30s}" + "".join(f"{_fmt(d.get(key)):>12s}" for _, d in cols))
    for label, key in EXPOSURE_ROWS:
        vals = [d.get("exposure", {}).get(key) for _, d in cols]
        lines.append(f"{label:30s}" + "".join(f"{_fmt(v):>12s}" for v in vals))
    if doc["designed"].get("duration_censored"):
        lines.append("duration: effect still present at the horizon (censored)")
    if doc["changed"]:
        lines.append("changed parameters (status assumed, source 'ketasim design: user-specified'):")
        for name, p in doc["changed"].items():
            note = f"  [{p['note']}]" if p.get("note") else ""
            lines.append(f"  {name} = {p['value']:.4g} {p['unit']}{note}")
    return "\n".join(lines)


def _sweep_table(doc: dict) -> str:
    unit = f" ({doc['unit']})" if doc["unit"] else ""
    head = ["response 24h", "response d7", "onset h", "duration d", "CADSS", "AUC ng h/mL"]
    lines = [f"{doc['property'] + unit:>20s}" + "".join(f"{h:>14s}" for h in head)]

    def row(label: str, r: dict) -> str:
        if "error" in r:
            return f"{label:>20s}  not designable: {r['error']}"
        vals = [r["response_24h"], r["response_7d"], r["onset_h"], r["duration_d"]]
        vals += [r["dissociation_peak_mean"], r["exposure"]["plasma_auc_ng_h_ml"]]
        return f"{label:>20s}" + "".join(f"{_fmt(v):>14s}" for v in vals)

    for r in doc["rows"]:
        lines.append(row(_fmt(r["value"], 4), r))
    lines.append(row("ketamine (ref.)", doc["ketamine"]))
    lines.append(row("saline", {**doc["saline"], "exposure": {"plasma_auc_ng_h_ml": None}}))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Design, predict and print; user errors are KetasimError (one line, exit status 2)."""
    from ketasim.design.build import design
    from ketasim.design.files import write
    from ketasim.design.predict import (
        DEFINITIONS,
        default_regimen,
        predict_design,
        reference_profile,
        references,
    )
    from ketasim.design.properties import PROPERTIES, lookup, parse_overrides, property_names, unit_label
    from ketasim.design.sweep import parse_range, plot_sweep, run_sweep, sweep_values
    from ketasim.errors import KetasimError
    from ketasim.trial import check_n_seed

    if args.list:
        if args.json:
            print(json.dumps({"properties": property_names()}))
        else:
            for p in PROPERTIES.values():
                print(f"{p.name:20s} {p.help}")
            print(f"{'affinity.TARGET':20s} off-target affinity, TARGET one of the known targets")
        return 0
    _regroup(args)
    args.base = args.base or "ketamine"
    args.seed = 0 if args.seed is None else args.seed
    args.points = 7 if args.points is None else args.points
    args.horizon = args.horizon or "14 d"
    overrides = parse_overrides(_merge_spaces(args.properties))
    regimen = default_regimen(args.route, args.dose, args.duration)
    if args.plot and not args.sweep:
        raise KetasimError("a plot needs --sweep", argument="--plot", fix="add --sweep PROPERTY=LO:HI")
    if args.sweep:
        from ketasim.scenario import from_dict

        name, lo, hi = parse_range(args.sweep)
        values = sweep_values(lookup(name, name), lo, hi, args.points, args.log)
        n = 100 if args.n is None else args.n
        check_n_seed(from_dict({"arms": [{"doses": []}]}), n, args.seed)
        doc = run_sweep(name, values, overrides, args.base, regimen, n, args.seed, args.horizon)
        doc.update(base=args.base, regimen=regimen.label(), n=n, seed=args.seed, definitions=DEFINITIONS)
        if args.plot:
            path = plot_sweep(doc, args.plot)
            print(f"wrote {path}", file=sys.stderr)
        print(json.dumps(doc) if args.json else _sweep_table(doc))
        return 0
    from ketasim.scenario import from_dict

    n = 200 if args.n is None else args.n
    check_n_seed(from_dict({"arms": [{"doses": []}]}), n, args.seed)
    d = design(overrides, args.base)
    if args.save:
        for path in write(d.compounds, args.save):
            print(f"wrote {path}", file=sys.stderr)
    refs = references(n, args.seed, args.horizon)
    doc = {
        "base": d.base,
        "overrides": {k: {"value": v, "unit": unit_label(k)} for k, v in overrides.items()},
        "regimen": regimen.label(),
        "n": n,
        "seed": args.seed,
        "designed": predict_design(d, regimen, n, args.seed, args.horizon, refs),
        **reference_profile(refs),
        "changed": {k: p.citation() | ({"note": p.note} if p.note else {}) for k, p in d.changed.items()},
        "definitions": DEFINITIONS,
    }
    print(json.dumps(doc) if args.json else _table(doc))
    return 0
