"""``ketasim sensitivity``: global sensitivity analysis of one output of a scenario (Morris or Sobol').

The analysis itself is :func:`ketasim.sensitivity.run_sensitivity`; this module parses the command
line, prints a ranked table or one JSON document, and writes the plot.
"""

from __future__ import annotations

import argparse
import json
import sys

from ketasim.errors import KetasimError

NAME = "sensitivity"


def register(sub) -> None:
    """Add the ``sensitivity`` sub-command to the CLI's sub-parsers."""
    from ketasim.sensitivity import DEFAULT_N, METHODS, SCALES
    from ketasim.sensitivity_eval import OUTPUTS

    p = sub.add_parser(
        NAME, help="global sensitivity analysis (Morris or Sobol') of one output of a scenario"
    )
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--output", required=True, help="output to analyse: " + ", ".join(OUTPUTS))
    p.add_argument("--method", default="morris", help=f"{' or '.join(METHODS)} (default morris)")
    p.add_argument(
        "--n",
        help=f"Morris trajectories (default {DEFAULT_N['morris']}) or Sobol' base samples, a power of 2 "
        f"(default {DEFAULT_N['sobol']})",
    )
    p.add_argument("--arm", help="arm to analyse (default: the first arm with doses)")
    p.add_argument(
        "--seed", default="0", help="seed of the design and of the bootstrap intervals (default 0)"
    )
    p.add_argument(
        "--params",
        help="comma-separated parameters of data/sensitivity.toml, or scales ("
        + ", ".join(SCALES)
        + "); default: all except routes of mechanisms that are off",
    )
    p.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786 (default: local)")
    p.add_argument("--workers", help="local worker processes (default: one per core)")
    p.add_argument("--plot", help="write a ranked bar plot (.png or .svg)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _whole(text: str | None, argument: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise KetasimError(f"'{text}' is not a whole number", argument=argument) from None


def run(args: argparse.Namespace) -> int:
    from ketasim import scenario as scenario_io
    from ketasim.sensitivity import check_n, check_outputs, run_sensitivity

    sc = scenario_io.load(args.scenario)
    check_outputs(sc, [args.output])
    method = args.method.strip().lower()
    n = _whole(args.n, "--n")
    if n is not None:
        check_n(method, n)
    plot = None
    if args.plot:
        from ketasim.report.sensitivity_plot import plot_path

        plot = plot_path(args.plot)
    params = [x.strip() for x in args.params.split(",") if x.strip()] if args.params is not None else None
    workers = _whole(args.workers, "--workers")
    result = run_sensitivity(
        sc,
        args.output,
        method=method,
        n=n,
        arm=args.arm,
        seed=_whole(args.seed, "--seed"),
        params=params,
        scheduler=args.scheduler,
        workers=workers,
    )[0]
    if plot is not None:
        from ketasim.report.sensitivity_plot import plot_indices

        plot_indices(result, plot)
        print(f"wrote {plot}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.document()))
    else:
        print(result.table())
    return 0
