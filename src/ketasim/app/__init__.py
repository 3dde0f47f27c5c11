"""The interactive app (``ketasim app``).

:mod:`ketasim.app.compute` holds the computation (no user interface), :mod:`ketasim.app.ui` the Panel page.
"""
