"""User-facing errors.

A :class:`KetasimError` is raised for anything the user can fix: an unknown compound, a unit
that does not convert, a negative dose, a malformed data file. Its message names the offending
argument (or file and field) and says how to fix it; the command line prints that one line and
exits with status 2, never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class KetasimError(ValueError):
    """An error in user input, with the argument it concerns and a suggested fix."""

    def __init__(self, message: str, *, argument: str | None = None, fix: str | None = None):
        self.message = message
        self.argument = argument
        self.fix = fix
        text = message if argument is None else f"{argument}: {message}"
        if fix:
            text = f"{text} ({fix})"
        # one line whatever the input echoed in it (a name read from a file may hold a line break)
        super().__init__(text.replace("\r", "\\r").replace("\n", "\\n"))


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """Return the closest of ``choices`` to ``name`` (for 'did you mean' messages), or None."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def unknown_choice(kind: str, name: str, choices: Iterable[str], argument: str) -> KetasimError:
    """Build the error for a name that is not one of ``choices``, suggesting a near miss."""
    choices = sorted(choices)
    near = suggest(name, choices)
    fix = f"did you mean '{near}'?" if near else "choose one of: " + ", ".join(choices)
    return KetasimError(f"unknown {kind} '{name}'", argument=argument, fix=fix)
