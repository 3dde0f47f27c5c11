"""The fast engine: solve an assembled arm scale by scale, each with a method that uses its structure.

Data flow down only, so the scales can be solved one after the other on a shared time grid:

1. PK is linear: exact modal solution in each patient's eigenbasis (:mod:`ketasim.engine.modal`).
2. Pore block is linear in the blocked fractions for given concentrations: exact exponentials on
   each grid interval with the concentration at its interval mean
   (:func:`ketasim.targets.patient_block.blocked_total`).
3. Allosteric modulators, the circuit and the route occupancies are algebraic (quasi-steady).
4. The cascade is a small stiff nonlinear ODE driven by inputs that are linear between grid points
   (:mod:`ketasim.engine.cascade_solver`, compiled with numba, one adaptive solve per patient).

Every patient is solved independently of the others in the batch, so results do not depend on how
patients are grouped into chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketasim.engine.modal import solve_modal
from ketasim.model_assembly import (
    ArmModel,
    available,
    cascade_inputs,
    circuit_rates,
    nam_fraction,
    occupancy_sum,
)
from ketasim.signalling import cascade
from ketasim.targets.patient_block import blocked_total


@dataclass
class Trajectories:
    """Solution of one arm on the grid ``t`` (leading axes patient, time)."""

    t: np.ndarray
    x: np.ndarray | None  # all PK states (P, T, n) if the solver keeps them
    conc: dict[str, np.ndarray]  # variable -> (P, T, S) µM (plasma: total plasma concentration)
    block: np.ndarray  # (P, T, n_terms)
    nam: np.ndarray  # (P, T, n_subunits)
    available: np.ndarray  # (P, T, 3)
    rates: np.ndarray  # (P, T, 3)
    u: np.ndarray  # (P, T, n_inputs)
    y: np.ndarray  # (P, T, n_states)
    sedation: np.ndarray  # (P, T)


def algebraic(model: ArmModel, conc: dict[str, np.ndarray], block: np.ndarray, patient=slice(None)):
    """NAM fraction, conductance, firing and cascade inputs on a grid (P, T, ...).

    ``patient`` selects the patients the leading axis holds (default: all of the model's)."""
    ecf = conc["brain_ecf"]
    nam = np.stack([nam_fraction(ecf, a) for a in model.nam], axis=-1)
    avail = available(model, block, nam)
    r = circuit_rates(model, avail)
    u = cascade_inputs(model, avail, r, conc, patient)
    return nam, avail, r, u


FINE_STEP_H = 2.0 / 60.0  # during absorption and infusion and the hour after
MEDIUM_STEP_H = 10.0 / 60.0  # up to 12 h after a dose
FINE_AFTER_H = 1.0
MEDIUM_AFTER_H = 12.0


def internal_grid(model: ArmModel, t_out: np.ndarray) -> np.ndarray:
    """The solver grid: the output times plus steps of 2 min from each dose to an hour after its end
    and of 10 min up to 12 h after it, where concentrations change fastest (concentrations are taken
    as linear between grid points). Against libRoadRunner at tight tolerances this gives peak NMDA
    block to 7e-5 and MADRS to 2.4e-4 relative (1-min and 5-min steps: 2e-5 and 2.3e-4)."""
    parts = [np.asarray(t_out, dtype=float)]
    end = float(np.max(t_out))
    for d in model.arm.regimen.doses:
        stop = d.time + d.duration + FINE_AFTER_H
        parts.append(np.arange(d.time, min(stop, end), FINE_STEP_H))
        parts.append(np.arange(stop, min(d.time + d.duration + MEDIUM_AFTER_H, end), MEDIUM_STEP_H))
    t = np.unique(np.concatenate(parts))
    return t[(t >= t_out[0]) & (t <= end)]


ALL_CONCENTRATIONS = ("plasma", "brain_ecf", "cytosol", "lysosome")


def solve_arm(
    model: ArmModel,
    t_out: np.ndarray,
    cascade_method: str = "compiled",
    concentrations: tuple[str, ...] = ALL_CONCENTRATIONS,
) -> Trajectories:
    """Solve ``model`` and report it on the output grid ``t_out`` (h).

    ``concentrations`` names the concentration variables to report; those the model needs
    (brain ECF for the block, and the compartments of the routes that are on) are always computed."""
    t_out = np.asarray(t_out, dtype=float)
    t = internal_grid(model, t_out)
    needed = {"brain_ecf", *concentrations, *(v for v, _ in model.routes.values())}
    sol = _solve_on(model, t, cascade_method, [v for v in ALL_CONCENTRATIONS if v in needed])
    return sol if t.size == t_out.size else select(sol, np.searchsorted(t, t_out))


def select(sol: Trajectories, idx: np.ndarray) -> Trajectories:
    """The trajectories at the grid indices ``idx``."""
    return Trajectories(
        sol.t[idx],
        None if sol.x is None else sol.x[:, idx],
        {k: v[:, idx] for k, v in sol.conc.items()},
        sol.block[:, idx],
        sol.nam[:, idx],
        sol.available[:, idx],
        sol.rates[:, idx],
        sol.u[:, idx],
        sol.y[:, idx],
        sol.sedation[:, idx],
    )


def _solve_on(model: ArmModel, t: np.ndarray, cascade_method: str, variables: list[str]) -> Trajectories:
    P, T = model.n_patients, t.size
    S = len(model.species)
    x = None
    if model.pk is not None:
        central = np.array([model.pk.state(sp.id, "central") for sp in model.species])
        index = {**model.conc_index, "plasma": central}
        rows = np.concatenate([index[v] for v in variables])
        xr_ = solve_modal(model.pk.A, model.schedule, t, rows).reshape(P, T, len(variables), S)
        conc = {v: np.clip(xr_[:, :, i], 0.0, None) for i, v in enumerate(variables)}
        if "plasma" in conc:
            conc["plasma"] /= model.pk.v1[:, None, :]
    else:
        conc = {v: np.zeros((P, T, 0)) for v in variables}
    block = np.zeros((P, T, len(model.block_terms)))
    for j, term in enumerate(model.block_terms):
        c = conc["brain_ecf"][..., term.species]
        block[..., j] = blocked_total(c, t, term.on, term.off)
    nam, avail, r, u = algebraic(model, conc, block)
    y = integrate_cascade(model, t, u, cascade_method)
    sedation = occupancy_sum(conc["brain_ecf"], model.sedation) if S else np.zeros((P, T))
    return Trajectories(t, x, conc, block, nam, avail, r, u, y, sedation)


def integrate_cascade(model: ArmModel, t: np.ndarray, u: np.ndarray, method: str = "compiled") -> np.ndarray:
    """Cascade states (P, T, n_states) for inputs ``u`` linear between grid points."""
    if method == "compiled":
        from ketasim.engine.cascade_solver import integrate

        stops = [d.time for d in model.arm.regimen.doses]
        return integrate(t, u, model.y0, model.cascade_p, model.depressed, model.protein_ref, stops)
    if method == "scipy":
        return cascade.integrate(
            t, u, model.y0, model.cascade_p, model.depressed, protein_ref=model.protein_ref
        )
    raise ValueError(f"unknown cascade method '{method}' (use 'compiled' or 'scipy')")
