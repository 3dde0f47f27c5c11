"""Assembles the scales for one arm: dose -> PK -> NMDA block -> circuit -> signalling -> spines.

Data flow down only. Fast scales are taken at quasi-steady state (receptor block is solved with
its own kinetics in :mod:`ketasim.targets.patient_block`; the circuit settles within milliseconds),
the signalling cascade and the spines are integrated as ODEs driven by the route inputs.

Each mechanism switch gates one route (``data/mechanisms.toml``). A route that is off sees the
drug-free value of its input for the same subject, so switching it off removes that route and
nothing else. Perturbations (``data/perturbations.toml``) only change parameters and NMDA
receptor expression.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ketasim import __version__, perturbations
from ketasim.circuit.model import available_conductance, circuit_outputs
from ketasim.compounds import Library, Species, default_library
from ketasim.errors import KetasimError
from ketasim.mechanisms import route_params
from ketasim.parameter_sets import ParamSet, packaged
from ketasim.physiology import default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.pk.simulate import simulate as simulate_pk
from ketasim.provenance import SourceList
from ketasim.scenario import Arm, Scenario
from ketasim.signalling import cascade
from ketasim.targets.cell_types import cell_types
from ketasim.targets.occupancy import occupancy
from ketasim.targets.patient_block import nmda_block

# Route inputs: (target, concentration variable) for the occupancy-driven routes.
ROUTE_TARGETS = {
    "lyso": ("lysosomal_mtor", "lysosome", "lysosomal_mtor"),
    "nic": ("alpha7_nachr", "brain_ecf", "nicotinic"),
    "sigma": ("sigma1", "cytosol", "sigma1"),
    "opioid": ("mu_opioid", "brain_ecf", "opioid"),
    "chaperone": ("nmda_pcp_site", "cytosol", "er_chaperone"),
}


@dataclass(frozen=True)
class ModelParams:
    """Parameters of the downstream scales for one arm, after perturbations."""

    circuit: ParamSet
    cascade: ParamSet  # signalling + spines + mechanism routes
    expression: dict[str, float]

    def sources(self) -> SourceList:
        out = SourceList()
        for name, ps in (("circuit", self.circuit), ("cascade", self.cascade)):
            for k, p in ps.params.items():
                out.add(f"{name}:{k}", p)
        return out


def base_cascade() -> ParamSet:
    merged = {**packaged("signalling").params, **packaged("spines").params, **route_params().params}
    return ParamSet(merged, "cascade")


def model_params(perturbation_names: tuple[str, ...] | list[str] = ()) -> ModelParams:
    cas, circ, expr = perturbations.apply(
        perturbation_names, base_cascade(), packaged("circuit"), cell_types()
    )
    return ModelParams(circ, cas, expr)


def output_times(horizon_h: float, doses_at: list[float] | None = None) -> np.ndarray:
    """Every 5 min over the first day (and after each dose), hourly after."""
    early = np.linspace(0.0, min(horizon_h, 24.0), int(min(horizon_h, 24.0) * 12) + 1)
    late = np.arange(24.0, horizon_h + 1e-9, 1.0) if horizon_h > 24 else np.array([])
    extra = []
    for t0 in doses_at or []:
        if 0 < t0 < horizon_h:
            extra.append(np.linspace(t0, min(t0 + 12.0, horizon_h), 145))
    t = np.unique(np.concatenate([early, late, *extra, [horizon_h]]))
    return t[t <= horizon_h + 1e-12]


def _zero_block(P: int, t: np.ndarray) -> xr.Dataset:
    cells = cell_types()
    subs = sorted({s for c in cells.values() for s in c.subunits})
    return xr.Dataset(
        {
            "nmda_block": (("patient", "time", "cell_type"), np.zeros((P, t.size, len(cells)))),
            "nmda_block_by_subunit": (
                ("patient", "time", "cell_type", "subunit"),
                np.zeros((P, t.size, len(cells), len(subs))),
            ),
        },
        coords={"patient": np.arange(P), "time": t, "cell_type": list(cells), "subunit": subs},
    )


def _with_patient_values(p: dict, values: Mapping[str, np.ndarray] | None, P: int) -> dict:
    for key, v in (values or {}).items():
        if key not in p:
            raise KetasimError(f"no cascade parameter '{key}'", argument="patient_params")
        arr = np.asarray(v, dtype=float)
        if arr.shape != (P,):
            raise KetasimError(f"needs one value per patient ({P}), got shape {arr.shape}", argument=key)
        p[key] = arr
    return p


def _adapted_conductance(chronic: ModelParams, cells) -> np.ndarray:
    """Drug-free NMDA conductance (3,) of each population under the chronic perturbations."""
    zero = _zero_block(1, np.zeros(1))
    return available_conductance(zero.nmda_block_by_subunit, chronic.expression, cells).values[0, 0]


def _drug_free_circuit(params: ModelParams, cells, P: int, adapted: np.ndarray) -> xr.Dataset:
    """Circuit outputs without drug (one time point; they do not change with time)."""
    zero = _zero_block(P, np.zeros(1))
    avail0 = available_conductance(zero.nmda_block_by_subunit, params.expression, cells)
    return circuit_outputs(avail0, params.circuit, adapted)


def _rest_inputs(
    params: ModelParams, cells, P: int, adapted: np.ndarray, circ0: xr.Dataset | None = None
) -> np.ndarray:
    """Drug-free cascade inputs of a subject with these parameters."""
    if circ0 is None:
        circ0 = _drug_free_circuit(params, cells, P, adapted)
    u = np.zeros((P, len(cascade.INPUTS)))
    u[:, cascade.UX["ca"]] = circ0.resting_nmda_ca.values[:, 0]
    u[:, cascade.UX["ampa"]] = circ0.glutamate.values[:, 0] * (1.0 - params.cascade["ampa.antagonist_block"])
    return u


def _species_concentrations(ds: xr.Dataset, target: str, variable: str, library: Library):
    """(affinity of the target, concentration array) for every simulated species that has the target."""
    by_analyte = {c.analyte: c for c in library.compounds.values() if isinstance(c, Species)}
    for a in ds.analyte.values:
        sp = by_analyte.get(str(a))
        if sp is not None and target in sp.targets:
            yield sp.targets[target], np.clip(ds[variable].sel(analyte=a).values, 0.0, None)


def _route_occupancy(
    ds: xr.Dataset | None, target: str, variable: str, library: Library, shape
) -> np.ndarray:
    """Combined occupancy of one target by all species competing for it, S / (1 + S)."""
    total = np.zeros(shape)
    if ds is not None:
        for ta, c in _species_concentrations(ds, target, variable, library):
            total += (c / ta.affinity) ** ta.hill
    return total / (1.0 + total)


def _potentiation(ds: xr.Dataset | None, target: str, library: Library, shape) -> np.ndarray:
    """Sum over species of emax x fractional effect (brain ECF), each species acting alone."""
    total = np.zeros(shape)
    if ds is not None:
        for ta, c in _species_concentrations(ds, target, "brain_ecf", library):
            emax = ta.params.get("emax")
            total += occupancy(c, ta.affinity, ta.hill) * (emax.value if emax is not None else 1.0)
    return total


def run_arm(
    scenario: Scenario,
    arm: Arm | str,
    covariates: Covariates | None = None,
    times: np.ndarray | None = None,
    library: Library | None = None,
    mechanisms: frozenset[str] | None = None,
    patient_params: Mapping[str, np.ndarray] | None = None,
) -> xr.Dataset:
    """Simulate one arm for the subjects in ``covariates`` (default: the species' reference subject).

    ``patient_params`` gives per-patient values (arrays of length P) of cascade parameters, e.g. the
    BDNF release factor of each patient's Val66Met genotype."""
    library = library or default_library()
    arm = scenario.arm(arm) if isinstance(arm, str) else arm
    on = scenario.mechanisms if mechanisms is None else mechanisms
    physiology = default_physiology(scenario.species)
    covariates = covariates or Covariates.single(physiology["body.reference_weight"])
    P = covariates.n
    t = (
        output_times(scenario.horizon_h, [d.time for d in arm.regimen.doses])
        if times is None
        else np.asarray(times)
    )
    params = model_params(arm.perturbations)
    cells = cell_types()

    pk = None
    if arm.regimen.doses:
        pk = simulate_pk(
            arm.regimen, covariates, times=t, library=library, physiology=physiology, species=scenario.species
        )
        block = nmda_block(pk, library, cells)
    else:
        block = _zero_block(P, t)
    nam = block.get("nam_inhibition")
    avail = available_conductance(block.nmda_block_by_subunit, params.expression, cells, nam)
    chronic = model_params(perturbations.chronic(arm.perturbations))
    adapted = _adapted_conductance(chronic, cells)
    circ = circuit_outputs(avail, params.circuit, adapted)
    circ0 = _drug_free_circuit(params, cells, P, adapted)

    shape = (P, t.size)
    u = np.zeros((*shape, len(cascade.INPUTS)))
    ux = cascade.UX
    ca = circ.resting_nmda_ca.values if "resting_nmda" in on else circ0.resting_nmda_ca.values
    glu = circ.glutamate.values if "disinhibition" in on else circ0.glutamate.values  # (P, 1) broadcasts
    pot = _potentiation(pk, "ampa_potentiation", library, shape) if "hnk_ampa" in on else np.zeros(shape)
    ampa_open = 1.0 - params.cascade["ampa.antagonist_block"]
    u[..., ux["ca"]] = ca
    u[..., ux["ampa"]] = glu * (1.0 + pot) * ampa_open
    for name, (target, variable, switch) in ROUTE_TARGETS.items():
        if switch in on:
            u[..., ux[name]] = _route_occupancy(pk, target, variable, library, shape)
    a = params.cascade["mechanism.opioid.params.antagonist_occupancy"]
    if a > 0:  # competition with an antagonist: S/(1+S) -> S/(1+S+A)
        o = np.clip(u[..., ux["opioid"]], 0.0, 1.0 - 1e-12)
        s = o / (1.0 - o)
        u[..., ux["opioid"]] = s / (1.0 + s + a / (1.0 - a))

    depressed = scenario.condition == "depressed"
    p = _with_patient_values(dict(params.cascade), patient_params, P)
    # spines are adapted to the drug-free state with the chronic (genetic) perturbations only
    y_adapted = cascade.steady_state(
        _rest_inputs(chronic, cells, P, adapted), dict(chronic.cascade), depressed
    )
    ref = y_adapted[:, cascade.IX["synaptic_protein"]]
    y0 = cascade.steady_state(_rest_inputs(params, cells, P, adapted, circ0), p, depressed, ref)
    y = cascade.integrate(t, u, y0, p, depressed, protein_ref=ref)

    data = {}
    for i, name in enumerate(cascade.STATES):
        data[name] = (("patient", "time"), y[..., i])
    p0 = params.cascade["eef2.baseline_phospho"]
    data["p_eef2_relative"] = (("patient", "time"), y[..., cascade.IX["p_eef2"]] / p0)
    for name, i in ux.items():
        data[f"input_{name}"] = (("patient", "time"), u[..., i])
    ds = xr.Dataset(data, coords={"patient": np.arange(P), "time": t})
    ds = ds.merge(circ).merge(block.assign_coords(patient=np.arange(P), time=t))
    ds["nmda_available"] = avail.assign_coords(patient=np.arange(P))
    if pk is not None:
        for v in ("plasma", "brain_ecf", "cytosol", "lysosome"):
            ds[v] = pk[v].assign_coords(patient=np.arange(P))
    ds["sedation"] = (("patient", "time"), _route_occupancy(pk, "gabaa_bz", "brain_ecf", library, shape))
    sources = params.sources()
    ds.attrs.update(
        {
            "ketasim_version": __version__,
            "species": scenario.species,
            "arm": arm.name,
            "mechanisms": ",".join(sorted(on)),
            "perturbations": ",".join(arm.perturbations),
            "scenario": json.dumps(scenario.record()),
            "parameter_hash": _combined_hash(
                sources.digest(), pk.attrs["parameter_hash"] if pk is not None else ""
            ),
            "downstream_sources": json.dumps(sources.records()),
        }
    )
    return ds


def _combined_hash(*parts: str) -> str:
    import hashlib

    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def series(ds: xr.Dataset, patient: int = 0) -> dict[str, list[float]]:
    """The named time series of ``ketasim simulate --json`` for one subject."""

    def conc(var: str, analyte: str) -> np.ndarray:
        if var in ds and analyte in ds.analyte.values:
            return ds[var].sel(analyte=analyte).isel(patient=patient).values
        return np.zeros(ds.time.size)

    block = ds.nmda_block.isel(patient=patient)
    out = {
        "plasma_ketamine_um": conc("plasma", "ketamine"),
        "brain_ketamine_um": conc("brain_ecf", "ketamine"),
        "nmda_block_pyramidal": block.sel(cell_type="pyramidal").values,
        "nmda_block_interneuron": block.sel(cell_type=["pv", "sst"]).mean("cell_type").values,
        "nmda_block_pv": block.sel(cell_type="pv").values,
        "nmda_block_sst": block.sel(cell_type="sst").values,
        "glutamate": ds.glutamate.isel(patient=patient).values,
        "pyramidal_rate": ds.pyramidal_rate.isel(patient=patient).values,
        "gamma_proxy": ds.gamma_proxy.isel(patient=patient).values,
        "resting_nmda_ca": ds.resting_nmda_ca.isel(patient=patient).values,
        "p_eef2": ds.p_eef2_relative.isel(patient=patient).values,
        "bdnf": ds.bdnf.isel(patient=patient).values,
        "mtorc1": ds.mtorc1.isel(patient=patient).values,
        "gsk3": ds.gsk3.isel(patient=patient).values,
        "synaptic_protein": ds.synaptic_protein.isel(patient=patient).values,
        "surface_ampa": ds.surface_ampa.isel(patient=patient).values,
        "spine_density": ds.spine_density.isel(patient=patient).values,
    }
    return {k: [float(x) for x in np.asarray(v)] for k, v in out.items()}
