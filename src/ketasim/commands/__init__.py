"""Command-line commands kept in their own modules (discovered by :mod:`ketasim.cli`).

Each module defines ``NAME`` (the sub-command), ``register(sub)`` (adds its parser to the
sub-parsers) and ``run(args) -> int`` (exit status). User errors are raised as
:class:`ketasim.errors.KetasimError`; the CLI turns them into one line and status 2.
"""
