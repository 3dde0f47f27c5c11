"""The circuit scale: from NMDA block by cell type and subunit to firing, glutamate and resting Ca2+.

NMDA conductance available to a population is the sum over its GluN2 subunits of (subunit share) x
(expression relative to wild type) x (mean unblocked open fraction per unit time at the cell's
activity, potential and Mg2+, from the detailed receptor model) x (1 - fraction blocked by drug),
relative to the wild-type, drug-free sum. Weighting by the open fraction counts each subunit by the
charge it carries (GluN2B receptors deactivate slowly and carry more charge per release event than
GluN2A; Vicini S et al. 1998, J Neurophysiol 79:555), so deleting GluN2B from pyramidal cells or
blocking it removes more than its share of receptors.

Outputs (relative to the wild-type drug-free baseline = 1):

- firing of pyramidal, PV and SST populations (:mod:`ketasim.circuit.network`);
- glutamate release = pyramidal firing x release factor (riluzole lowers the factor);
- gamma proxy (:func:`ketasim.circuit.network.pv_ampa_drive`);
- resting NMDA Ca2+ of pyramidal dendrites: the NMDA charge from spontaneous release at rest that
  is left unblocked (the signal of the "block at rest" hypothesis; Autry AE et al. 2011, Nature
  475:91). It uses the pyramidal receptors at their resting activity, potential and Mg2+, so it
  equals the pyramidal NMDA conductance available.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ketasim.circuit.network import POPULATIONS, ampa_scaling, pv_ampa_drive, rates
from ketasim.errors import KetasimError
from ketasim.parameter_sets import ParamSet
from ketasim.targets.cell_types import CellType, cell_types
from ketasim.targets.nmda_reduced import activity_averages

Expression = Mapping[str, float]  # "cell.subunit" -> expression relative to wild type


def charge_weights(cell: CellType) -> dict[str, float]:
    """Share x mean unblocked open fraction of each subunit of ``cell`` (its NMDA charge per unit time)."""
    return {
        s: f * activity_averages(s, cell.activity_hz, cell.potential_mv, cell.mg_mm).open_free
        for s, f in cell.subunits.items()
    }


def check_expression(expression: Expression, cells: Mapping[str, CellType]) -> None:
    for key, value in expression.items():
        cell, _, sub = key.partition(".")
        if cell not in cells or sub not in cells[cell].subunits:
            valid = [f"{c}.{s}" for c, ct in cells.items() for s in ct.subunits]
            raise KetasimError(
                f"no NMDA receptor '{key}' in the cell types",
                argument="expression",
                fix="use one of: " + ", ".join(valid),
            )
        if value < 0:
            raise KetasimError(f"expression of {key} is negative ({value})", argument="expression")


def available_conductance(
    block_by_subunit: xr.DataArray,
    expression: Expression | None = None,
    cells: Mapping[str, CellType] | None = None,
    nam_inhibition: xr.DataArray | None = None,
) -> xr.DataArray:
    """NMDA conductance available (patient, time, cell_type) relative to the wild-type drug-free cell.

    ``nam_inhibition`` (patient, time, subunit) removes a further fraction of each subunit's current
    (allosteric modulators such as traxoprodil act on GluN2B without entering the pore)."""
    cells = cells or cell_types()
    expression = dict(expression or {})
    check_expression(expression, cells)
    out = []
    for name in POPULATIONS:
        w = charge_weights(cells[name])
        total = sum(w.values())
        acc = 0.0
        for sub, wt in w.items():
            b = block_by_subunit.sel(cell_type=name, subunit=sub).fillna(0.0)
            left = 1.0 - b
            if nam_inhibition is not None:
                left = left * (1.0 - nam_inhibition.sel(subunit=sub))
            acc = acc + wt * expression.get(f"{name}.{sub}", 1.0) * left
        out.append(acc / total)
    return xr.concat(out, dim=xr.DataArray(list(POPULATIONS), dims="cell_type", name="cell_type")).transpose(
        "patient", "time", "cell_type"
    )


def circuit_outputs(
    available: xr.DataArray, params: ParamSet, adapted: np.ndarray | None = None
) -> xr.Dataset:
    """Firing, glutamate, gamma proxy and resting NMDA Ca2+ for the available conductance.

    ``adapted`` (3,) is the drug-free NMDA conductance each population has lived with (chronic
    perturbations only); populations scale their other synapses to it (:func:`ampa_scaling`)."""
    scaling = 1.0 if adapted is None else ampa_scaling(np.asarray(adapted), dict(params))
    r = rates(available.values, dict(params), scaling)
    release_factor = params["outputs.release_factor"]
    dims = ("patient", "time")
    return xr.Dataset(
        {
            "pyramidal_rate": (dims, r[..., 0], {"units": "1", "long_name": "pyramidal firing (rel.)"}),
            "pv_rate": (dims, r[..., 1], {"units": "1", "long_name": "PV interneuron firing (rel.)"}),
            "sst_rate": (dims, r[..., 2], {"units": "1", "long_name": "SST interneuron firing (rel.)"}),
            "glutamate": (
                dims,
                release_factor * r[..., 0],
                {"units": "1", "long_name": "glutamate release (rel.)"},
            ),
            "gamma_proxy": (dims, pv_ampa_drive(r, dict(params)), {"units": "1"}),
            "resting_nmda_ca": (
                dims,
                available.sel(cell_type="pyramidal").values,
                {"units": "1", "long_name": "resting NMDA Ca2+ of pyramidal dendrites (rel.)"},
            ),
        },
        coords={"patient": available.patient.values, "time": available.time.values},
    )
