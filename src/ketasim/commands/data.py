"""``ketasim data check|nca|compare|vpc DATASET``: NONMEM-style datasets in, diagnostics out.

The dataset format (columns, units, compartment map) is in docs/data_format.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

NAME = "data"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="CSV file with ID, TIME, AMT, EVID, CMT, DV (see docs/data_format.md)")
    p.add_argument(
        "--units", default=None, help="column units, e.g. 'TIME=h,AMT=mg,DV=ng/mL' (override '# units:')"
    )
    p.add_argument(
        "--cmt",
        action="append",
        default=None,
        metavar="N=ROUTE[:COMPOUND]|N=obs:ANALYTE",
        help="compartment map, e.g. '1=iv:ketamine' or '2=obs:S-ketamine' (repeatable; overrides '# cmt:')",
    )
    p.add_argument("--dv", default=None, help="analyte measured in DV, e.g. S-ketamine (overrides '# dv:')")
    p.add_argument("--compound", default=None, help="dosed compound when the file has no COMPOUND column")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data`` and its sub-commands."""
    p = sub.add_parser(NAME, help="NONMEM-style datasets: check, NCA, observed vs predicted, VPC")
    dsub = p.add_subparsers(dest="data_command", metavar="check|nca|compare|vpc")
    c = dsub.add_parser("check", help="validate a dataset and summarise it")
    _common(c)
    n = dsub.add_parser("nca", help="NCA of the observed profiles, per subject and analyte, with a summary")
    _common(n)
    n.add_argument("--export", metavar="FILE", help="write the NCA table (.csv, .parquet or .nc)")
    m = dsub.add_parser("compare", help="observed vs predicted for each subject's own dosing and weight")
    _common(m)
    m.add_argument("--plot-dir", metavar="DIR", help="write obs_vs_pred.png and residuals_vs_time.png here")
    m.add_argument("--export", metavar="FILE", help="write the comparison table (.csv, .parquet or .nc)")
    v = dsub.add_parser(
        "vpc", help="visual predictive check of a virtual population against the observations"
    )
    _common(v)
    v.add_argument("--analyte", default=None, help="which observed analyte (default: the only one)")
    v.add_argument("--n", default="500", help="virtual patients per subject (default 500)")
    v.add_argument("--seed", default="1", help="random seed (default 1)")
    v.add_argument("--population", default="trd", help="population file or name (default trd)")
    v.add_argument("--residual-cv", default="0", help="proportional residual error CV, e.g. 0.2 (default 0)")
    v.add_argument("--bins", default=None, help="number of time bins, or edges in h '0,1,2,6,24'")
    v.add_argument("--plot", metavar="FILE.png", help="write the VPC plot")
    v.add_argument("--export", metavar="FILE", help="write the VPC table (.csv, .parquet or .nc)")


def _load(args: argparse.Namespace):
    from ketasim.datasets import read_dataset

    return read_dataset(args.dataset, units=args.units, cmt=args.cmt, dv=args.dv, compound=args.compound)


def _clean(x):
    """JSON-safe: NaN and infinities as null, numpy scalars as numbers."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _int(text: str, argument: str, minimum: int) -> int:
    from ketasim.errors import KetasimError

    try:
        v = int(str(text).strip())
    except ValueError:
        raise KetasimError(f"'{text}' is not a whole number", argument=argument) from None
    if v < minimum:
        raise KetasimError(f"must be at least {minimum}, got {v}", argument=argument)
    return v


def _float(text: str, argument: str) -> float:
    from ketasim.errors import KetasimError

    try:
        v = float(str(text).strip())
    except ValueError:
        raise KetasimError(f"'{text}' is not a number", argument=argument) from None
    if not math.isfinite(v) or v < 0:
        raise KetasimError("must be zero or positive", argument=argument)
    return v


def _bins(text: str | None):
    from ketasim.errors import KetasimError

    if text is None:
        return None
    parts = [x for x in text.split(",") if x.strip()]
    try:
        if len(parts) == 1:
            return _int(parts[0], "--bins", 1)
        return [float(x) for x in parts]
    except ValueError:
        raise KetasimError(f"'{text}' is not a bin count or a list of times", argument="--bins") from None


def _export(result, path: str | None) -> None:
    if path:
        from ketasim.export import export

        print(f"wrote {export(result, path)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from ketasim.errors import KetasimError

    cmd = getattr(args, "data_command", None)
    if cmd is None:
        raise KetasimError("a sub-command is required", argument="data", fix="use check, nca, compare or vpc")
    if getattr(args, "export", None):
        from ketasim.export import export_path

        export_path(args.export)
    data = _load(args)
    if cmd == "check":
        return _check(args, data)
    if cmd == "nca":
        return _nca(args, data)
    if cmd == "compare":
        return _compare(args, data)
    return _vpc(args, data)


def _check(args, data) -> int:
    from ketasim.data_io.simulate import check_compounds

    check_compounds(data)
    s = data.summary()
    if args.json:
        print(json.dumps(_clean(s)))
        return 0
    print(f"{s['source']}: valid")
    for k, v in s.items():
        if k != "source":
            print(f"  {k:<16}{v}")
    return 0


def _nca(args, data) -> int:
    from ketasim.data_io.nca_table import nca_summary, observed_nca

    table = observed_nca(data)
    _export(table, args.export)
    summary = nca_summary(table)
    if args.json:
        rows = table.to_dict(orient="records")
        print(json.dumps(_clean({"source": data.source, "subjects": rows, "summary": summary})))
        return 0
    u = summary["units"]
    print(f"NCA of observed data: {data.source} (linear-up/log-down; times from each subject's first dose)")
    head = (
        f"{'ID':>6} {'analyte':<16}{'Cmax ' + u['cmax']:>14}{'Tmax h':>8}{'AUClast':>11}{'AUCinf':>11}"
        f"{'t1/2 h':>8}{'%extrap':>8}"
    )
    print(head)
    print("-" * len(head))
    f = lambda v, spec: "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)  # noqa: E731
    for r in table.itertuples(index=False):
        print(
            f"{r.ID!s:>6} {r.ANALYTE:<16}{f(r.cmax, '14.4g')}{f(r.tmax, '8.2f')}{f(r.auc_last, '11.4g')}"
            f"{f(r.auc_inf, '11.4g')}{f(r.t_half, '8.2f')}{f(r.auc_extrapolated_pct, '8.1f')}"
        )
    print(f"\nAUC unit {u['auc_last']}.  Geometric mean (geometric CV %):")
    for a, s in summary["analytes"].items():
        parts = []
        for m in ("cmax", "auc_last", "auc_inf", "t_half"):
            g = s[m]
            cv = "" if g["geometric_cv_pct"] is None else f" ({g['geometric_cv_pct']:.0f}%)"
            parts.append(f"{m} {f(g['geometric_mean'], '.4g')}{cv}")
        parts.append(f"tmax median {f(s['tmax']['median'], '.2f')} h")
        print(f"  {a}: " + ", ".join(parts))
    return 0


def _compare(args, data) -> int:
    from ketasim.data_io.compare import observed_vs_predicted

    cmp = observed_vs_predicted(data)
    paths = []
    if args.plot_dir:
        from ketasim.report.diagnostics import plot_dir, plot_observed_vs_predicted, plot_residuals_vs_time

        d = plot_dir(args.plot_dir)
        paths = [
            plot_observed_vs_predicted(cmp, d / "obs_vs_pred.png"),
            plot_residuals_vs_time(cmp, d / "residuals_vs_time.png"),
        ]
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    _export(cmp, args.export)
    summary = cmp.summary()
    if args.json:
        print(json.dumps(_clean(summary)))
        return 0
    print(f"Observed vs predicted: {data.source} (typical subject with each ID's dosing and WT)")
    print(cmp.table.drop(columns=["ROW"]).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for a, s in summary["analytes"].items():
        print(
            f"\n{a}: n={s['n']}, median |ln(DV/PRED)| {s['median_abs_log_residual']:.3f}, "
            f"geometric mean DV/PRED {s['geometric_mean_ratio_obs_pred']:.3f}, "
            f"within 2-fold {s['fraction_within_2fold']:.0%}"
            if s["n_log"]
            else f"\n{a}: n={s['n']}, no positive pairs for log residuals"
        )
    return 0


def _vpc(args, data) -> int:
    from ketasim.vpc import vpc

    n = _int(args.n, "--n", 20)
    seed = _int(args.seed, "--seed", 0)
    res = vpc(
        data,
        args.analyte,
        n=n,
        seed=seed,
        population=args.population,
        residual_cv=_float(args.residual_cv, "--residual-cv"),
        bins=_bins(args.bins),
    )
    if args.plot:
        from ketasim.report.diagnostics import plot_vpc

        print(f"wrote {plot_vpc(res, args.plot)}", file=sys.stderr)
    _export(res, args.export)
    summary = res.summary()
    if args.json:
        print(json.dumps(_clean(summary)))
        return 0
    print(
        f"VPC of {res.analyte} ({res.dv_unit}): {data.source}; {n} virtual patients per subject, seed {seed}"
    )
    b = res.bins
    print(
        f"{'bin time h':>10} {'n':>4} {'pct':>5}{'observed':>11}{'sim 5%':>11}{'sim 50%':>11}{'sim 95%':>11}"
    )
    for r in b.itertuples(index=False):
        flag = "  *" if r.observed < r.sim_lo or r.observed > r.sim_hi else ""
        print(
            f"{r.time:10.3g} {r.n_obs:>4} {r.quantile:5.0%}{r.observed:11.4g}{r.sim_lo:11.4g}"
            f"{r.sim_median:11.4g}{r.sim_hi:11.4g}{flag}"
        )
    print(
        f"\nobservations outside their 90% prediction interval: {summary['fraction_outside_90pi']:.1%} "
        f"(nominal 10%); observed percentiles outside their interval (*): "
        f"{summary['observed_percentiles_outside_their_pi']} of {summary['percentiles_checked']}"
    )
    return 0
