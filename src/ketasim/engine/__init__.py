"""Solvers, kept apart from the model equations.

- :mod:`ketasim.engine.schedule`: turns a regimen into piecewise-constant inputs and boluses.
- :mod:`ketasim.engine.linear`: exact batched solution of linear systems by matrix exponentials.
- :mod:`ketasim.engine.reference`: scipy ``solve_ivp`` per patient at tight tolerances, the oracle.
"""
