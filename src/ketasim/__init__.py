"""ketasim: a mechanistic simulator of ketamine-like rapid antidepressants.

The package is organised by biological scale (``pk``, ``brain``, ...); each scale exposes pure
functions for its equations. Quantities enter through :mod:`ketasim.units`, parameters carry
their provenance (:mod:`ketasim.provenance`), and user errors are :class:`KetasimError`.
"""

from importlib.metadata import PackageNotFoundError, version

from ketasim.errors import KetasimError

try:
    __version__ = version("ketasim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["KetasimError", "__version__"]
