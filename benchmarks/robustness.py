"""Numerical robustness sweep: N parameter sets from every documented range through the whole model.

    python benchmarks/robustness.py --n 10000 [--seed S] [--horizon "7 d"] [--chunk-size C]
                                    [--workers W] [--scheduler ADDRESS] [--json]

Each parameter set (the 47 ranges of ``src/ketasim/data/sensitivity.toml``, uniform or log-uniform) is
one virtual patient given the standard ketamine infusion (0.5 mg/kg over 40 min) with every mechanism
switched on, solved by the fast engine and the clinical layer (:mod:`ketasim.robustness`). Prints the
number of parameter sets, the failures (a solve that raised, or any NaN or infinite output) with their
reasons, the failure fraction and the time. With ``--json`` one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200, help="parameter sets (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--horizon", default="7 d", help="simulated time (default 7 d)")
    p.add_argument("--chunk-size", type=int, default=100)
    p.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    p.add_argument("--scheduler", default=None, help="address of a Dask scheduler")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from ketasim.robustness import default_scenario, run_sweep

    result = run_sweep(
        args.n,
        args.seed,
        default_scenario(args.horizon),
        chunk_size=args.chunk_size,
        workers=args.workers,
        scheduler=args.scheduler,
    )
    doc = {**result.document(), "horizon": args.horizon, "workers": args.workers}
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    print(
        f"{doc['parameter_sets']} parameter sets ({doc['factors']} ranges), seed {doc['seed']}: "
        f"{doc['failures']} failed ({100 * doc['failure_fraction']:.2f} %) in {doc['seconds']} s"
    )
    for reason, count in doc["failure_reasons"].items():
        print(f"  {count} x {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
