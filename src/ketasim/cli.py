"""Command line: a thin shell over the API.

User errors (:class:`KetasimError`) print one line to stderr and exit with status 2; with
``--json`` a command prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ketasim import __version__, units
from ketasim.errors import KetasimError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2, no usage dump
        raise KetasimError(
            message,
            fix=f"see 'ketasim {self.prog.split()[-1]} --help'"
            if " " in self.prog
            else "see 'ketasim --help'",
        )


def _enzyme_factor(text: str) -> tuple[str, float]:
    if "=" not in text:
        raise KetasimError(
            f"'{text}' is not ENZYME=FACTOR",
            argument="--enzyme-factor",
            fix="e.g. --enzyme-factor CYP3A4=0.3",
        )
    k, v = text.split("=", 1)
    try:
        f = float(v)
    except ValueError:
        raise KetasimError(f"'{v}' is not a number", argument="--enzyme-factor") from None
    if f < 0 or f != f:
        raise KetasimError("factor must be zero or positive", argument="--enzyme-factor")
    return k.strip().upper(), f


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ketasim", description="Mechanistic simulator of ketamine-like rapid antidepressants.")
    p.add_argument("--version", action="version", version=f"ketasim {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    pk = sub.add_parser("pk", help="plasma, brain and cell exposure for one dose or regimen")
    pk.add_argument("compound", help="compound id or alias, e.g. ketamine, esketamine, memantine")
    pk.add_argument("--dose", help="amount as free base, e.g. '0.5 mg/kg' or '56 mg'")
    pk.add_argument("--route", default="iv", help="iv, im, intranasal, oral or sublingual (default iv)")
    pk.add_argument("--duration", help="infusion duration for route iv, e.g. '40 min' (omit for a bolus)")
    pk.add_argument(
        "--step",
        action="append",
        metavar="RATE,DURATION",
        help="stepped IV infusion segment, e.g. '0.28 mg/kg/h,1 h' (repeatable; replaces --dose)",
    )
    pk.add_argument("--every", help="repeat the dose at this interval, e.g. '3.5 d'")
    pk.add_argument("--count", type=int, default=1, help="number of doses when --every is given")
    pk.add_argument(
        "--weight", default=None, help="body weight (default: the species' reference, 70 kg for humans)"
    )
    pk.add_argument("--species", default="human", help="human (default), mouse or rat")
    pk.add_argument("--horizon", default="48 h", help="simulated time (default 48 h)")
    pk.add_argument("--cyp2b6", default="*1/*1", help="CYP2B6 genotype: *1/*1, *1/*6 or *6/*6")
    pk.add_argument(
        "--enzyme-factor",
        action="append",
        default=[],
        metavar="ENZYME=FACTOR",
        help="inhibitor (<1) or inducer (>1) of an enzyme, e.g. CYP3A4=0.3",
    )
    pk.add_argument("--json", action="store_true", help="print one JSON document")
    pk.add_argument("--plot", metavar="FILE.png", help="write a PNG of every analyte over time")
    pk.add_argument("--sources", action="store_true", help="also list every parameter behind the result")
    pk.add_argument("--export", metavar="FILE", help="write the result as tidy .csv/.parquet or xarray .nc")
    pk.add_argument(
        "--affinity-hypothesis",
        action="append",
        default=[],
        metavar="NAME",
        help="use a contested affinity instead of the default record (repeatable; names in "
        "data/targets.toml, e.g. d2high_seeman2005, bk_submicromolar)",
    )
    pk.add_argument(
        "--potency",
        metavar="FILE.png",
        help="write the potency strip of the dosed compound, marking the peak brain ECF concentrations",
    )
    eph = sub.add_parser("ephys", help="virtual electrophysiology on the detailed NMDA receptor model")
    eph.add_argument("protocol", choices=["ic50", "trapping", "rest"], help="which experiment")
    eph.add_argument("--compound", required=True, help="compound id or alias, e.g. ketamine, memantine")
    eph.add_argument("--subunit", default=None, help="GluN2A, GluN2B, GluN2C or GluN2D")
    eph.add_argument(
        "--mg", default=None, help="extracellular Mg2+ in mM (ic50/trapping default 0, rest default 1)"
    )
    eph.add_argument("--voltage", default=None, help="holding potential in mV")
    eph.add_argument("--conc", default=None, help="drug concentration in uM (trapping, rest)")
    eph.add_argument("--rate", default=None, help="spontaneous release rate in Hz (rest; default 0.1)")
    eph.add_argument("--json", action="store_true", help="print one JSON document")
    sim = sub.add_parser("simulate", help="dose to spines for the typical subject of each arm of a scenario")
    sim.add_argument("scenario", help="scenario TOML file (see examples/)")
    sim.add_argument("--arm", default=None, help="arm to simulate (default: the first; --out writes all)")
    sim.add_argument(
        "--mechanisms", default=None, help="override the scenario's switches: NAMES, 'all' or 'none'"
    )
    sim.add_argument("--out", default=None, help="directory for series tables, provenance and a plot per arm")
    sim.add_argument("--json", action="store_true", help="print one JSON document")
    sim.add_argument("--export", metavar="FILE", help="write the arm's result as tidy .csv/.parquet or .nc")
    tri = sub.add_parser("trial", help="virtual trial: population, arms, endpoints, report")
    tri.add_argument("scenario", help="scenario TOML file (see examples/standard_infusion.toml)")
    tri.add_argument("--n", default=None, help="patients per arm (default: the scenario's population.n)")
    tri.add_argument("--seed", default=None, help="random seed (default: the scenario's population.seed)")
    tri.add_argument("--report", default=None, help="directory for an HTML report with figures")
    tri.add_argument(
        "--control", default=None, help="arm to compare against (default: the first arm without doses)"
    )
    tri.add_argument(
        "--power", default=None, help="patients per arm to test, e.g. '10,20,40': power on response at 24 h"
    )
    tri.add_argument("--json", action="store_true", help="print one JSON document")
    tri.add_argument(
        "--chunk-size",
        default=None,
        metavar="N",
        help="run patients in chunks of N (a multiple of 250; default 2000 when any of --chunk-size, "
        "--workers, --scheduler or --out is given)",
    )
    tri.add_argument(
        "--workers", default=None, metavar="N", help="local worker processes (default: one per core)"
    )
    tri.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the chunks on a Dask cluster, e.g. tcp://host:8786",
    )
    tri.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="stream per-patient results to DIR/<arm>.parquet and write DIR/summary.json",
    )
    val = sub.add_parser("validate", help="run the catalogue of published findings against the model")
    val.add_argument(
        "--mechanisms", help="mechanism switches for the mechanism findings: NAMES, 'all' or 'none'"
    )
    val.add_argument(
        "--matrix", action="store_true", help="findings x single hypotheses: which switch explains what"
    )
    val.add_argument("--json", action="store_true", help="print one JSON document")
    for module in _command_modules():
        module.register(sub)
    return p


def _command_modules() -> list:
    """Commands that live in their own module under :mod:`ketasim.commands`.

    Each such module defines ``NAME``, ``register(sub)`` (adds its sub-parser) and ``run(args) -> int``.
    """
    import importlib
    import pkgutil

    from ketasim import commands

    return [
        importlib.import_module(f"ketasim.commands.{m.name}")
        for m in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name)
        if not m.name.startswith("_")
    ]


def _number(text: str | None, argument: str, unit: str) -> float | None:
    if text is None:
        return None
    t = text.strip()
    for suffix in (unit, unit.lower()):
        if t.endswith(suffix):
            t = t[: -len(suffix)].strip()
    try:
        return float(t)
    except ValueError:
        raise KetasimError(
            f"'{text}' is not a number of {unit}", argument=argument, fix=f"e.g. {argument} 1"
        ) from None


def _cmd_ephys(args: argparse.Namespace) -> int:
    from ketasim.targets import ephys
    from ketasim.targets.receptor_data import _normalise_subunit

    if args.subunit is not None:
        args.subunit = _normalise_subunit(args.subunit)
    mg = _number(args.mg, "--mg", "mM")
    v = _number(args.voltage, "--voltage", "mV")
    conc = _number(args.conc, "--conc", "uM")
    rate = _number(args.rate, "--rate", "Hz")
    if conc is not None and conc <= 0:
        raise KetasimError("concentration must be positive", argument="--conc")
    common = {"compound": args.compound}
    if args.protocol == "ic50":
        sub = args.subunit or "GluN2A"
        mg = 0.0 if mg is None else mg
        v = -66.0 if v is None else v
        value = ephys.ic50(args.compound, sub, mg, v)
        doc = {**common, "subunit": sub, "mg_mm": mg, "voltage_mv": v, "ic50_um": value}
    elif args.protocol == "trapping":
        sub = args.subunit or "GluN2A"
        mg = 0.0 if mg is None else mg
        v = -60.0 if v is None else v
        r = ephys.trapping(args.compound, sub, mg, v, conc)
        doc = {
            **common,
            "subunit": sub,
            "mg_mm": mg,
            "voltage_mv": v,
            "conc_um": r["conc_um"],
            "trapped_fraction": r["trapped_fraction"],
        }
    else:
        sub = args.subunit or "GluN2B"
        mg = 1.0 if mg is None else mg
        r = ephys.resting_block(args.compound, sub, mg, v, conc, rate)
        doc = {
            **common,
            "subunit": sub,
            "mg_mm": mg,
            "voltage_mv": r["v_mv"],
            "conc_um": r["conc_um"],
            "rate_hz": r["rate_hz"],
            "resting_block": r["resting_block"],
        }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for k, val in doc.items():
            print(f"{k:<18}{val if not isinstance(val, float) else format(val, '.4g')}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ketasim import scenario as scenario_io
    from ketasim.mechanisms import parse_names
    from ketasim.simulation_output import simulate_document, write_outputs

    if args.export:
        from ketasim.export import export_path

        export_path(args.export)
    sc = scenario_io.load(args.scenario)
    mech = parse_names(args.mechanisms) if args.mechanisms is not None else None
    arm = sc.arm(args.arm) if args.arm else sc.arms[0]
    doc, ds = simulate_document(sc, arm, mech)
    if args.export:
        from ketasim.export import export

        print(f"wrote {export(ds, args.export)}", file=sys.stderr)
    if args.out:
        paths = write_outputs(sc, args.out, mech)
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    if args.json:
        print(json.dumps(doc))
        return 0
    mech_text = ds.attrs["mechanisms"] or "none"
    print(f"{sc.name}: arm '{arm.name}' ({sc.species}, {sc.condition}); mechanisms: {mech_text}")
    s = doc["series"]
    t = doc["times_h"]
    shown = [
        "brain_ketamine_um",
        "nmda_block_pyramidal",
        "glutamate",
        "p_eef2",
        "bdnf",
        "mtorc1",
        "synaptic_protein",
        "surface_ampa",
        "spine_density",
    ]
    print("time_h  " + " ".join(f"{k[:10]:>10}" for k in shown))
    for h in (0.25, 0.5, 1, 2, 4, 8, 24, 72, 168, 336):
        if h <= t[-1]:
            j = min(range(len(t)), key=lambda i: abs(t[i] - h))
            print(f"{t[j]:6.2f}  " + " ".join(f"{s[k][j]:10.3f}" for k in shown))
    return 0


def _whole(text: str | None, argument: str) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise KetasimError(f"'{text}' is not a whole number", argument=argument) from None
    return value


def _count(text: str | None, argument: str, example: str) -> int | None:
    try:
        return _whole(text, argument)
    except KetasimError:
        raise KetasimError(
            f"'{text}' is not a whole number", argument=argument, fix=f"e.g. {argument} {example}"
        ) from None


def _trial_chunked(args: argparse.Namespace, sc) -> tuple[dict, dict[str, tuple[int, int]], str | None]:
    """``ketasim trial`` in chunks (any of --chunk-size, --workers, --scheduler, --out)."""
    from ketasim.scale.chunks import DEFAULT_CHUNK_SIZE, run_chunked

    if args.report:
        raise KetasimError(
            "the HTML report needs every patient's time course; chunked runs keep per-patient rows only",
            argument="--report",
            fix="drop --report, or drop --chunk-size, --workers, --scheduler and --out",
        )
    chunk = _count(args.chunk_size, "--chunk-size", "2000")
    run = run_chunked(
        sc,
        n=_whole(args.n, "--n"),
        seed=_whole(args.seed, "--seed"),
        chunk_size=DEFAULT_CHUNK_SIZE if chunk is None else chunk,
        scheduler=args.scheduler,
        workers=_count(args.workers, "--workers", "4"),
        out=args.out,
        control=args.control,
    )
    if args.out:
        written = [*run.files.values(), run.directory / "summary.json"]
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    counts = {k: (a.responders[24.0], a.n) for k, a in run.arms.items() if 24.0 in a.hours}
    return run.summary, counts, run.control


def _cmd_trial(args: argparse.Namespace) -> int:
    from ketasim import scenario as scenario_io
    from ketasim.trial import response_power, run_trial

    sc = scenario_io.load(args.scenario)
    ns = None
    if args.power:
        ns = [_whole(x.strip(), "--power") for x in args.power.split(",") if x.strip()]
        if not ns or min(ns) < 1:
            raise KetasimError(
                "give patients per arm as whole numbers >= 1", argument="--power", fix="e.g. 10,20,40"
            )
    if any(x is not None for x in (args.chunk_size, args.workers, args.scheduler, args.out)):
        summary, counts, control = _trial_chunked(args, sc)
    else:
        result = run_trial(
            sc, n=_whole(args.n, "--n"), seed=_whole(args.seed, "--seed"), control=args.control
        )
        if args.report:
            from ketasim.report.trial_report import write_report

            path = write_report(result, args.report, scenario_text=Path(args.scenario).read_text())
            print(f"wrote {path}", file=sys.stderr)
        summary, control = result.summary(), result.control
        counts = {k: (int(a.response(24.0).sum()), a.n) for k, a in result.arms.items()}
    if ns is not None:
        if control is None:
            raise KetasimError("the scenario has no control arm (an arm without doses)", argument="power")
        if control not in counts:
            raise KetasimError(
                "power on response at 24 h needs a horizon of at least 24 h", argument="--power"
            )
        summary["power_24h"] = {
            f"{a} vs {control}": {
                str(n): v for n, v in response_power(counts[a], counts[control], ns).items()
            }
            for a in counts
            if a != control
        }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{sc.name}: {summary['n_per_arm']} patients per arm, seed {summary['seed']}")
    hours = list(next(iter(summary["arms"].values()))["response_rate"])
    print(f"{'arm':<12} " + " ".join(f"{'resp ' + h + 'h':>10}" for h in hours) + "   CADSS  SBP+")
    for name, a in summary["arms"].items():
        cells = " ".join(f"{a['response_rate'][h]:10.2f}" for h in hours)
        print(f"{name:<12} {cells}   {a['dissociation_peak_mean']:5.1f} {a['systolic_rise_peak_mean']:5.1f}")
    for k, v in summary.get("comparisons", {}).items():
        lo, hi = v["ci95"]
        g = v["madrs_change_hedges_g"]
        print(
            f"{k}: response OR at 24 h {v['response_odds_ratio_24h']:.2f} ({lo:.2f}-{hi:.2f}); "
            f"Hedges' g of MADRS change {g[0]:.2f} ({g[1]:.2f} to {g[2]:.2f})"
        )
    for k, table in summary.get("power_24h", {}).items():
        cells = ", ".join(f"n={n}: {v['power']:.2f}" for n, v in table.items())
        print(f"power, {k} (Fisher, alpha 0.05): {cells}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from ketasim.findings import run_all
    from ketasim.mechanisms import parse_names

    if args.matrix:
        from ketasim.mechanism_findings import hypothesis_matrix

        matrix = hypothesis_matrix()
        if args.json:
            print(json.dumps({"matrix": matrix}, indent=2))
            return 0
        sets = list(next(iter(matrix.values())))
        width = max(len(k) for k in matrix)
        print(" " * width + "  " + " ".join(f"{s[:8]:>8}" for s in sets))
        for fid, row in matrix.items():
            print(f"{fid:<{width}}  " + " ".join(f"{'pass' if row[s] else '-':>8}" for s in sets))
        return 0
    mech = parse_names(args.mechanisms) if args.mechanisms is not None else None
    results = run_all(mech)
    doc = {
        "findings": [r.as_dict() for r in results],
        "passed": sum(r.passed for r in results),
        "total": len(results),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    for r in results:
        mark = "PASS" if r.passed else "FAIL"
        note = "  (known failure)" if r.known_failure and not r.passed else ""
        print(f"{mark}  {r.id:<45} measured {r.measured}  expected {r.expected}{note}")
    print(f"\n{doc['passed']} of {doc['total']} findings reproduced")
    return 0


def _cmd_pk(args: argparse.Namespace) -> int:
    from ketasim.compounds import default_library
    from ketasim.dosing import Dose, Regimen
    from ketasim.pk.exposure import pk_run

    if args.export:
        from ketasim.export import export_path

        export_path(args.export)
    lib = default_library()
    if args.affinity_hypothesis:
        from ketasim.compounds import with_affinity_hypotheses

        lib = with_affinity_hypotheses(lib, args.affinity_hypothesis, "--affinity-hypothesis")
    if args.potency:
        from ketasim.report.plots import png_path

        png_path(args.potency, "--potency")
    comp = lib.get(args.compound, "compound")
    weight = None
    if args.weight is not None:
        weight = units.parse(
            args.weight if any(c.isalpha() for c in args.weight) else f"{args.weight} kg",
            "weight",
            "--weight",
        )
    horizon = units.parse(args.horizon, "time", "--horizon")
    factors = dict(_enzyme_factor(x) for x in args.enzyme_factor)
    regimen = None
    if args.step:
        if args.dose:
            raise KetasimError("give either --dose or --step, not both", argument="--step")
        steps = []
        for s in args.step:
            if "," not in s:
                raise KetasimError(
                    f"'{s}' is not RATE,DURATION", argument="--step", fix="e.g. --step '0.28 mg/kg/h,1 h'"
                )
            rate, dur = s.split(",", 1)
            steps.append((rate.strip(), dur.strip()))
        regimen = Regimen.stepped_infusion(comp.id, steps)
    elif not args.dose:
        raise KetasimError("a dose is required", argument="--dose", fix="e.g. --dose '0.5 mg/kg'")
    if args.every:
        base = Dose.parse(comp.id, args.dose, args.route, duration=args.duration)
        regimen = Regimen.repeated(base, args.every, args.count)
    run = pk_run(
        comp.id,
        args.dose or "0 mg",
        args.route,
        args.duration,
        weight,
        horizon,
        args.cyp2b6,
        factors,
        regimen,
        lib,
        species=args.species.strip().lower(),
    )
    if args.plot:
        from ketasim.report.plots import plot_exposure

        what = f"{comp.name}: {args.dose or 'stepped infusion'} {args.route}" + (
            f" over {args.duration}" if args.duration else ""
        )
        plot_exposure(run.dataset, args.plot, title=what)
    if args.export:
        from ketasim.export import export

        print(f"wrote {export(run.dataset, args.export)}", file=sys.stderr)
    if args.potency:
        from ketasim.report.potency import plot_potency_strip

        dosed = json.loads(run.dataset.attrs["dosed_analytes"])
        marks = {
            f"{a} peak ECF": run.summary["brain"][a]["ecf_cmax_um"]
            for a in dosed
            if a in run.summary["brain"] and run.summary["brain"][a]["ecf_cmax_um"] > 0
        }
        plot_potency_strip(comp.id, args.potency, lib, marks)
        print(f"wrote {args.potency}", file=sys.stderr)
    run.summary["affinity_hypotheses"] = list(args.affinity_hypothesis)
    sources = json.loads(run.dataset.attrs["sources"])
    if args.json:
        doc = dict(run.summary)
        if args.sources:
            doc["sources"] = sources
        print(json.dumps(doc, indent=2))
    else:
        print(_format_pk(run.summary))
        if args.sources:
            print(f"\n{'parameter':<52}{'value':>12} {'unit':<10}{'status':<9}source")
            for r in sources:
                print(f"{r['name']:<52}{r['value']:>12.4g} {r['unit']:<10}{r['status']:<9}{r['source']}")
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def _format_pk(s: dict) -> str:
    lines = [
        f"{s['compound']} ({s['route']})  ketasim {s['ketasim_version']}  parameters {s['parameter_hash']}",
        "",
    ]
    head = f"{'analyte':<22}{'Cmax ng/mL':>12}{'Cmax uM':>10}{'Tmax h':>8}{'AUC ng.h/mL':>13}{'t1/2 h':>8}"
    lines += [head, "-" * len(head)]
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for name, r in s["analytes"].items():
        lines.append(
            f"{name:<22}{fmt(r['cmax_ng_ml'], '12.3g')}{fmt(r['cmax_um'], '10.3g')}{fmt(r['tmax_h'], '8.2f')}"
            f"{fmt(r['auc_ng_h_ml'], '13.4g')}{fmt(r['t_half_h'], '8.2f')}"
        )
    if s["bioavailability"] is not None:
        lines += [
            "",
            f"bioavailability of the parent (AUC vs IV bolus of the same amount): {s['bioavailability']:.3f}",
        ]
    lines += ["", f"{'brain (peak, uM)':<22}{'ECF':>10}{'Tmax h':>8}{'cytosol':>10}{'lysosome':>10}"]
    for name, r in s["brain"].items():
        lines.append(
            f"{name:<22}{r['ecf_cmax_um']:10.3g}{r['ecf_tmax_h']:8.2f}{r['cytosol_cmax_um']:10.3g}{r['lysosome_cmax_um']:10.3g}"
        )
    rec = s.get("receptors")
    if rec:
        lines += ["", f"{'NMDA block (peak)':<22}{'fraction':>10}{'Tmax h':>8}"]
        for cell, r in rec["nmda_block"].items():
            lines.append(f"{cell:<22}{r['peak_block']:10.3f}{r['tmax_h']:8.2f}")
        top = sorted(rec["peak_occupancy"].items(), key=lambda kv: -kv[1])[:6]
        occ = ", ".join(f"{k} {v:.1%}" for k, v in top)
        lines += ["", f"peak occupancy (equilibrium, unbound brain ECF): {occ}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "pk":
            return _cmd_pk(args)
        if args.command == "ephys":
            return _cmd_ephys(args)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "simulate":
            return _cmd_simulate(args)
        if args.command == "trial":
            return _cmd_trial(args)
        for module in _command_modules():
            if args.command == module.NAME:
                return module.run(args)
        raise KetasimError(f"unknown command '{args.command}'")
    except KetasimError as exc:
        print(f"ketasim: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
