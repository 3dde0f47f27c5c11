"""``ketasim report SCENARIO.toml --out DIR``: run the scenario's virtual trial and write a
self-contained HTML report (``DIR/index.html``, see :mod:`ketasim.report.trial_report`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ketasim.errors import KetasimError

NAME = "report"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command."""
    p = sub.add_parser(
        NAME,
        help="virtual trial and self-contained HTML report: exposure, NCA, receptors, circuit, "
        "signalling, spines, clinical outcomes, provenance",
    )
    p.add_argument("scenario", help="scenario TOML file (see examples/standard_infusion.toml)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for index.html and its tables")
    p.add_argument("--n", default=None, help="patients per arm (default: the scenario's population.n)")
    p.add_argument("--seed", default=None, help="random seed (default: the scenario's population.seed)")
    p.add_argument(
        "--mechanisms", default=None, help="override the scenario's switches: NAMES, 'all' or 'none'"
    )
    p.add_argument(
        "--detail",
        default=None,
        metavar="N",
        help="patients per arm solved with every variable for the exposure and mechanistic figures "
        "(default 50, at most --n)",
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON document (the files written and the summary)"
    )


def _whole(text: str | None, argument: str, example: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise KetasimError(
            f"'{text}' is not a whole number", argument=argument, fix=f"e.g. {argument} {example}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Run the trial, write the report; print where it went (stderr) or the JSON document (stdout)."""
    from ketasim import scenario as scenario_io
    from ketasim.mechanisms import parse_names
    from ketasim.report.detail import DEFAULT_DETAIL
    from ketasim.report.trial_report import write_report
    from ketasim.trial import run_trial

    sc = scenario_io.load(args.scenario)
    text = Path(args.scenario).read_text()
    mech = parse_names(args.mechanisms) if args.mechanisms is not None else None
    n = _whole(args.n, "--n", "200")
    detail = _whole(args.detail, "--detail", "50")
    if detail is not None and detail < 1:
        raise KetasimError(f"must be a whole number >= 1, got {detail}", argument="--detail")
    result = run_trial(sc, n=n, seed=_whole(args.seed, "--seed", "1"), mechanisms=mech)
    path = write_report(
        result, args.out, scenario_text=text, mechanisms=mech, n_detail=detail or DEFAULT_DETAIL
    )
    if args.json:
        files = [str(path.parent / f) for f in ("index.html", "summary.json", "nca.csv", "provenance.json")]
        print(json.dumps({"report": str(path), "files": files, "summary": result.summary()}))
    else:
        print(f"wrote {path}", file=sys.stderr)
    return 0
