"""``ketasim export-sbml SCENARIO``: the whole model of one arm as SBML (libRoadRunner, COPASI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "export-sbml"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export-sbml`` sub-command."""
    p = sub.add_parser(
        NAME,
        help="write the whole model of one arm (PK, block, circuit, cascade, spines) as SBML Level 3",
    )
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--arm", help="arm to export (default: the first)")
    p.add_argument("--mechanisms", help="comma-separated hypothesis switches (default: the scenario's)")
    p.add_argument("--out", help="file to write (default: standard output)")


def run(args: argparse.Namespace) -> int:
    """Export; user errors are KetasimError (one line, exit status 2)."""
    from ketasim import scenario as scenario_io
    from ketasim.errors import KetasimError
    from ketasim.mechanisms import parse_names
    from ketasim.model_assembly import assemble
    from ketasim.sbml_export import export_sbml

    sc = scenario_io.load(args.scenario)
    arm = sc.arm(args.arm) if args.arm else sc.arms[0]
    mech = parse_names(args.mechanisms) if args.mechanisms is not None else None
    text = export_sbml(assemble(sc, arm, mechanisms=mech))
    if args.out:
        out = Path(args.out)
        try:
            out.write_text(text)
        except OSError as exc:
            raise KetasimError(
                f"cannot write {out} ({exc.strerror})", argument="--out", fix="give a writable file path"
            ) from None
        print(f"wrote {out} (arm '{arm.name}', reference subject, time in hours)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
