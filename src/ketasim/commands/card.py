"""``ketasim card COMPOUND``: the model card of a compound (every parameter with unit, source, status)."""

from __future__ import annotations

import argparse

NAME = "card"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``card`` sub-command."""
    p = sub.add_parser(
        NAME, help="model card of a compound: every parameter with its value, unit, source and status"
    )
    p.add_argument("compound", help="compound id or alias, e.g. ketamine, esketamine, memantine")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON document")
    fmt.add_argument("--markdown", action="store_true", help="print Markdown (as in docs/cards/)")


def run(args: argparse.Namespace) -> int:
    """Print the card; an unknown compound is a KetasimError (one line, exit status 2)."""
    from ketasim.model_card import card
    from ketasim.model_card_render import to_json, to_markdown, to_text

    c = card(args.compound)
    if args.json:
        print(to_json(c))
    elif args.markdown:
        print(to_markdown(c), end="")
    else:
        print(to_text(c), end="")
    return 0
