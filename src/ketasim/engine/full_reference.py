"""Reference solution of a whole assembled arm: scipy on the full ODE system, one patient at a time.

The state of a patient is [PK states, blocked fractions of every species at every receptor
population, cascade states]; the circuit and the route occupancies are evaluated inside the
right-hand side at every call. Nothing is staged, interpolated or held constant: concentrations
drive the continuous block equation (:func:`ketasim.model_assembly.block_rhs`) and the circuit acts
on the cascade at every instant. Integration restarts at each dosing breakpoint (boluses added,
infusion rates switched). This is the yardstick the fast engine (:mod:`ketasim.engine.staged`) and
the SBML export are checked against.
"""

from __future__ import annotations

import numpy as np

from ketasim.engine.reference import solve_segments
from ketasim.engine.staged import Trajectories, algebraic
from ketasim.model_assembly import ArmModel, block_rhs, concentrations, occupancy_sum
from ketasim.signalling import cascade


class Layout:
    """Where each part of the state vector of one patient lives."""

    def __init__(self, model: ArmModel):
        self.n_pk = model.pk.n_states if model.pk is not None else 0
        self.block = []
        i = self.n_pk
        for term in model.block_terms:
            k = term.species.size
            self.block.append(slice(i, i + k))
            i += k
        self.cascade = slice(i, i + len(cascade.STATES))
        self.size = self.cascade.stop


def rhs(model: ArmModel, layout: Layout, p: int, params: dict, t: float, z: np.ndarray, rate: np.ndarray):
    """dz/dt of patient ``p`` (``params`` its cascade parameters, ``rate`` its infusion inputs)."""
    dz = np.empty_like(z)
    conc = {}
    if model.pk is not None:
        x = z[: layout.n_pk]
        dz[: layout.n_pk] = model.pk.A[p] @ x + rate
        conc = {v: concentrations(x, idx)[None] for v, idx in model.conc_index.items()}
    else:
        conc = {v: np.zeros((1, 0)) for v in model.conc_index}
    totals = np.empty((1, len(model.block_terms)))
    for j, (term, sl) in enumerate(zip(model.block_terms, layout.block, strict=True)):
        b = z[sl]
        dz[sl] = block_rhs(b, conc["brain_ecf"][0, term.species], term.on, term.off)
        totals[0, j] = b.sum()
    _, _, _, u = algebraic(model, conc, totals, [p])
    y = z[layout.cascade][None]
    dz[layout.cascade] = cascade.rhs(y, u, params, model.depressed, model.protein_ref[p : p + 1])[0]
    return dz


def solve_reference(
    model: ArmModel,
    t: np.ndarray,
    patients: list[int] | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    method: str = "Radau",
) -> Trajectories:
    """Trajectories of the chosen ``patients`` (default all) on the grid ``t``."""
    t = np.asarray(t, dtype=float)
    patients = list(range(model.n_patients)) if patients is None else list(patients)
    layout = Layout(model)
    Z = np.empty((len(patients), t.size, layout.size))
    sch = model.schedule
    bp = sch.breakpoints if sch is not None else np.array([0.0])
    for row, p in enumerate(patients):
        params = model.cascade_params_of(p)
        z0 = np.zeros(layout.size)
        z0[layout.cascade] = model.y0[p]

        def jump(k, z, p=p):
            if sch is not None:
                z = z.copy()
                z[: layout.n_pk] += sch.boluses[k, p]
            return z

        def rhs_of(k, p=p, params=params):
            rate = sch.rates[k, p] if sch is not None else np.zeros(0)
            return lambda tt, zz: rhs(model, layout, p, params, tt, zz, rate)

        Z[row] = solve_segments(t, bp, z0, jump, rhs_of, method, rtol, atol, what=f"patient {p}")
    return _trajectories(model, layout, t, Z, patients)


def _trajectories(model: ArmModel, layout: Layout, t: np.ndarray, Z: np.ndarray, patients: list[int]):
    x = Z[..., : layout.n_pk] if model.pk is not None else None
    if x is not None:
        conc = {v: concentrations(x, idx) for v, idx in model.conc_index.items()}
        central = [model.pk.state(sp.id, "central") for sp in model.species]
        conc["plasma"] = x[..., central] / model.pk.v1[patients][:, None, :]
    else:
        conc = {v: np.zeros((len(patients), t.size, 0)) for v in model.conc_index}
    block = (
        np.stack([Z[..., sl].sum(axis=-1) for sl in layout.block], axis=-1)
        if layout.block
        else (np.zeros((len(patients), t.size, 0)))
    )
    nam, avail, r, u = algebraic(model, conc, block, patients)
    y = Z[..., layout.cascade]
    sedation = occupancy_sum(conc["brain_ecf"], model.sedation)
    return Trajectories(t, x, conc, block, nam, avail, r, u, y, sedation)
