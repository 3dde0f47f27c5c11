"""Checking a file name a command will write (before a long run starts): its type and its folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ketasim.errors import KetasimError


def checked_output(path: str | Path, suffixes: Sequence[str], argument: str) -> Path:
    """``path`` as a Path if it ends in one of ``suffixes`` (e.g. ``(".png", ".svg")``) and its folder
    exists; otherwise a :class:`KetasimError` naming ``argument`` and the fix."""
    p = Path(path)
    kinds = suffixes[0] if len(suffixes) == 1 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
    if p.suffix.lower() not in suffixes:
        raise KetasimError(
            f"'{p}' is not a {kinds} file", argument=argument, fix=f"give a name ending in {kinds}"
        )
    if not p.parent.exists():
        raise KetasimError(f"folder '{p.parent}' does not exist", argument=argument, fix="create it first")
    return p
