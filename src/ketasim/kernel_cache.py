"""Where the compiled (numba) kernels are cached: a directory named after the code they depend on.

numba's on-disk cache (``cache=True``) checks only the source file of the function it compiled. A
kernel that calls a jitted function of another module (``cascade.derivatives`` calls
``spines.turnover``), or that freezes a global constant defined elsewhere (state indices, parameter
tables), is not recompiled when only that other module changes: the cache then silently returns
results of the old code. To rule this out, every kernel module calls :func:`configure` before it
defines its kernels; the cache goes to a directory whose name is a hash of the source of every module
that contains a cached kernel and of every ``ketasim`` module those import (transitively), plus the
numba and Python versions. Any change to that code gives a new directory, hence a fresh compilation.

The directory lives under ``NUMBA_CACHE_DIR`` if the user set it, else under ``$XDG_CACHE_HOME``
(default ``~/.cache``) as ``ketasim/numba/<hash>``. If it cannot be written, numba falls back to its
own default location (next to the sources) as before.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
KERNEL_MARK = "cache=True"


def _module_file(name: str) -> Path | None:
    """The source file of module ``ketasim.x.y`` inside this package, or None."""
    if name != "ketasim" and not name.startswith("ketasim."):
        return None
    parts = name.split(".")[1:]
    base = PACKAGE_ROOT.joinpath(*parts) if parts else PACKAGE_ROOT
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_files(path: Path) -> set[Path]:
    """Files of the ``ketasim`` modules that ``path`` imports (absolute imports, any depth in the file)."""
    out: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            f = _module_file(name)
            if f is not None:
                out.add(f)
    return out


def kernel_sources(root: Path = PACKAGE_ROOT) -> list[Path]:
    """Every module under ``root`` with a cached kernel, and the package modules they import,
    transitively; sorted."""
    todo = [p for p in root.rglob("*.py") if KERNEL_MARK in p.read_text(encoding="utf-8")]
    seen: set[Path] = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(_imported_files(p) - seen)
    return sorted(seen)


def source_digest(files: list[Path], extra: str = "") -> str:
    """SHA-256 (first 16 hex digits) of the files' paths relative to the package and their bytes."""
    h = hashlib.sha256(extra.encode())
    for f in files:
        h.update(str(f.relative_to(PACKAGE_ROOT) if f.is_relative_to(PACKAGE_ROOT) else f).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _base_dir() -> Path:
    user = os.environ.get("NUMBA_CACHE_DIR")
    if user:
        return Path(user)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "ketasim" / "numba"


@lru_cache(maxsize=1)
def configure() -> str:
    """Point numba's cache at the directory for the current kernel code (once per process); returns it."""
    import numba

    extra = f"numba {numba.__version__}; python {sys.version}"
    path = _base_dir() / source_digest(kernel_sources(), extra)
    numba.config.CACHE_DIR = str(path)
    return str(path)
