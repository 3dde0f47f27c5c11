"""A brain slice in a bath: the circuit's steady state at fixed drug concentrations, without PK.

Slice experiments (e.g. Gerhard DM et al. 2020, J Clin Invest 130:1336, mPFC slices) apply a compound
at a set concentration. Here every NMDA receptor of every cell type sees the bath concentration of
each species of the compound (a racemate splits by its mole fractions); the block is the reduced
receptor model's steady state at the cell's activity, potential and Mg2+
(:func:`ketasim.targets.nmda_reduced.steady_block`), and the circuit's fixed point follows from the
available NMDA conductance (:mod:`ketasim.circuit.model`). The same functions serve the patient model,
so a slice differs from a patient only by its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ketasim.circuit.model import available_conductance
from ketasim.circuit.network import POPULATIONS, rates
from ketasim.compounds import Library, default_library
from ketasim.errors import KetasimError
from ketasim.parameter_sets import packaged
from ketasim.targets.cell_types import cell_types
from ketasim.targets.nmda_kinetics import blocker_for
from ketasim.targets.nmda_reduced import steady_block


def bath_block(bath: Mapping[str, float], library: Library | None = None) -> xr.DataArray:
    """Steady fraction blocked (1, 1, cell_type, subunit) with compounds at ``bath`` (id -> µM)."""
    lib = library or default_library()
    cells = cell_types()
    species: list[tuple[object, float]] = []
    for cid, conc in bath.items():
        if conc < 0:
            raise KetasimError(f"bath concentration of {cid} is negative ({conc} uM)", argument="bath")
        comp = lib.get(cid, "bath compound")
        for sid, frac in comp.components.items():
            species.append((lib.species(sid), conc * frac))
    subs = sorted({s for c in cells.values() for s in c.subunits})
    arr = np.zeros((1, 1, len(cells), len(subs)))
    for i, cell in enumerate(cells.values()):
        for j, sub in enumerate(subs):
            if sub not in cell.subunits:
                continue
            pairs = [(blocker_for(sp, sub), c) for sp, c in species]
            pairs = [(b, c) for b, c in pairs if b is not None]
            if not pairs:
                continue
            b = steady_block(
                [p[0] for p in pairs],
                [p[1] for p in pairs],
                sub,
                cell.activity_hz,
                cell.potential_mv,
                cell.mg_mm,
            )
            arr[0, 0, i, j] = float(np.sum(b))
    return xr.DataArray(
        arr,
        dims=("patient", "time", "cell_type", "subunit"),
        coords={"patient": [0], "time": [0.0], "cell_type": list(cells), "subunit": subs},
    )


def slice_rates(bath: Mapping[str, float], library: Library | None = None) -> dict[str, float]:
    """Firing of each population (relative to the drug-free slice = 1) with the bath ``bath`` (id -> µM)."""
    cells = cell_types()
    avail = available_conductance(bath_block(bath, library), {}, cells).values[0, 0]
    r = np.asarray(rates(avail, dict(packaged("circuit"))), dtype=float)
    return dict(zip(POPULATIONS, (float(x) for x in r), strict=True))
