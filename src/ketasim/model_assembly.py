"""The whole model of one trial arm, assembled for a batch of patients, independent of any solver.

:func:`assemble` looks up every parameter once (PK system and dosing schedule, pore block rates of
each blocking species at each receptor population, allosteric modulators, circuit weights, route
affinities, cascade parameters and drug-free steady state) and returns an :class:`ArmModel`. The
pure functions below turn states into the quantities the scales pass down:

    PK states x -> concentrations (brain ECF, cytosol, lysosome) -> pore block b (ODE per receptor
    population and species) -> NMDA conductance available -> circuit fixed point -> cascade inputs
    u -> cascade states y (ODE).

Solvers (:mod:`ketasim.engine.staged`, the fast engine; :mod:`ketasim.engine.full_reference`, scipy
on the whole system at tight tolerances) and the SBML export (:mod:`ketasim.sbml_export`) all start
from the same ``ArmModel``, so they solve the same equations with the same numbers.

The continuous pore-block equation of species i at one receptor population is
db_i/dt = on_i C_i (1 - sum_j b_j) - off_i b_i (competition for one site in the pore), with
per-period rates from the detailed receptor model (:mod:`ketasim.targets.nmda_reduced`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ketasim import perturbations
from ketasim.circuit.model import charge_weights, check_expression
from ketasim.circuit.network import POPULATIONS, ampa_scaling, rates
from ketasim.compounds import Library, Species
from ketasim.engine.schedule import Schedule, build_schedule
from ketasim.errors import KetasimError
from ketasim.mechanisms import route_params
from ketasim.parameter_sets import ParamSet, packaged
from ketasim.physiology import default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.pk.model import PKModel, build_model
from ketasim.provenance import SourceList
from ketasim.scenario import Arm, Scenario
from ketasim.signalling import cascade
from ketasim.targets.cell_types import cell_types
from ketasim.targets.nmda_kinetics import blocker_for, modulator_for
from ketasim.targets.nmda_reduced import per_period_rates
from ketasim.targets.receptor_data import PER_HOUR

CONC_VARIABLES = ("brain_ecf", "cytosol", "lysosome")

# Cascade input <- (target, concentration variable, mechanism switch) for the occupancy routes.
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


@dataclass(frozen=True)
class BlockTerm:
    """Pore block at one receptor population (cell type x GluN2 subunit) by the blocking species."""

    cell: int  # index in POPULATIONS
    subunit: int  # index in ArmModel.subunits
    share: float  # fraction of the cell's NMDA receptors with this subunit
    species: np.ndarray  # (k,) indices into ArmModel.species
    on: np.ndarray  # (k,) binding rate, 1/(µM h)
    off: np.ndarray  # (k,) unbinding rate, 1/h


@dataclass(frozen=True)
class Affinity:
    """Species acting on one target: indices, affinity (µM), Hill coefficient, and a scale (e.g. Emax)."""

    species: np.ndarray
    affinity: np.ndarray
    hill: np.ndarray
    scale: np.ndarray


@dataclass
class ArmModel:
    """Everything needed to solve one arm for P patients (see the module docstring)."""

    scenario: Scenario
    arm: Arm
    mechanisms: frozenset[str]
    covariates: Covariates
    library: Library
    params: ModelParams
    pk: PKModel | None
    schedule: Schedule | None
    species: list[Species]
    conc_index: dict[str, np.ndarray]  # variable -> (S,) PK state index of each species
    subunits: list[str]
    block_terms: list[BlockTerm]
    charge: np.ndarray  # (3, n_subunits) charge weight x expression / total of the cell
    nam: list[Affinity | None]  # per subunit: allosteric modulators (scale = efficacy)
    circuit: dict[str, float]
    scaling: np.ndarray  # (3,) homeostatic scaling of non-NMDA drive
    routes: dict[str, tuple[str, Affinity]]  # cascade input -> (concentration variable, species)
    potentiation: Affinity | None  # AMPA potentiation (scale = Emax), None if the route is off
    sedation: Affinity
    rest_ca: np.ndarray  # (P,) drug-free resting NMDA Ca2+
    rest_glutamate: np.ndarray  # (P,) drug-free glutamate
    cascade_p: dict  # cascade parameters (values may be per-patient arrays of shape (P,))
    depressed: bool
    protein_ref: np.ndarray  # (P,) synaptic protein the spines are adapted to
    y0: np.ndarray  # (P, n_states) drug-free steady state of the cascade

    @property
    def n_patients(self) -> int:
        return self.covariates.n

    def parameter_hash(self) -> str:
        """Hash of every parameter of the arm (downstream scales and PK)."""
        import hashlib

        parts = (self.params.sources().digest(), self.pk.sources.digest() if self.pk is not None else "")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def cascade_params_of(self, p: int) -> dict:
        """Cascade parameters of patient ``p`` (per-patient arrays reduced to scalars)."""
        return {k: (float(v[p]) if isinstance(v, np.ndarray) else v) for k, v in self.cascade_p.items()}


# --------------------------------------------------------------------------------------- pure functions
def concentrations(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Concentrations (..., S) of each species from PK states ``x`` (..., n), clipped at 0."""
    return np.clip(x[..., index], 0.0, None)


def block_rhs(b: np.ndarray, conc: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """db/dt (1/h) of blocked fractions ``b`` (..., k) for concentrations ``conc`` (..., k) in µM."""
    free = 1.0 - b.sum(axis=-1, keepdims=True)
    return on * conc * free - off * b


def nam_fraction(conc: np.ndarray, nam: Affinity | None) -> np.ndarray:
    """Fraction of a subunit's current removed by allosteric modulators (equilibrium, one site)."""
    if nam is None:
        return np.zeros(conc.shape[:-1])
    r = conc[..., nam.species] / nam.affinity
    return (r * nam.scale).sum(axis=-1) / (1.0 + r.sum(axis=-1))


def available(model: ArmModel, block: np.ndarray, nam: np.ndarray) -> np.ndarray:
    """NMDA conductance available (..., 3) from block per term (..., n_terms) and NAM (..., n_sub)."""
    blocked = {(t.cell, t.subunit): j for j, t in enumerate(model.block_terms)}
    out = np.zeros((*nam.shape[:-1], 3))
    for c in range(3):
        for s in range(nam.shape[-1]):
            w = model.charge[c, s]
            if w == 0.0:
                continue
            left = w * (1.0 - nam[..., s])
            if (c, s) in blocked:
                left = left * (1.0 - block[..., blocked[(c, s)]])
            out[..., c] += left
    return out


def occupancy_sum(conc: np.ndarray, aff: Affinity) -> np.ndarray:
    """Competitive occupancy S / (1 + S) with S = sum_i (C_i / K_i)^n_i."""
    s = ((conc[..., aff.species] / aff.affinity) ** aff.hill).sum(axis=-1)
    return s / (1.0 + s)


def potentiation(conc: np.ndarray, aff: Affinity | None) -> np.ndarray:
    """Sum over species of Emax x fractional effect, each acting alone."""
    if aff is None:
        return np.zeros(conc.shape[:-1])
    xn = (conc[..., aff.species] / aff.affinity) ** aff.hill
    return (aff.scale * xn / (1.0 + xn)).sum(axis=-1)


def circuit_rates(model: ArmModel, avail: np.ndarray) -> np.ndarray:
    """Relative firing (..., 3) of pyramidal, PV and SST populations."""
    return rates(avail, model.circuit, model.scaling)


def cascade_inputs(
    model: ArmModel, avail: np.ndarray, r: np.ndarray, conc: Mapping[str, np.ndarray], patient=slice(None)
) -> np.ndarray:
    """Cascade inputs (..., n_inputs) from conductance, firing and concentrations (each (..., S)).

    A route whose switch is off gets its drug-free value. ``patient`` selects the patients the
    leading axis holds (for the drug-free values)."""
    ux = cascade.UX
    shape = avail.shape[:-1]
    u = np.zeros((*shape, len(cascade.INPUTS)))
    expand = (slice(None),) + (None,) * (len(shape) - 1)
    rest_ca = model.rest_ca[patient][expand] if len(shape) else model.rest_ca[patient]
    rest_glu = model.rest_glutamate[patient][expand] if len(shape) else model.rest_glutamate[patient]
    on = model.mechanisms
    u[..., ux["ca"]] = avail[..., 0] if "resting_nmda" in on else rest_ca
    glu = model.circuit["outputs.release_factor"] * r[..., 0] if "disinhibition" in on else rest_glu
    pot = potentiation(conc["brain_ecf"], model.potentiation)
    u[..., ux["ampa"]] = glu * (1.0 + pot) * (1.0 - model.cascade_p["ampa.antagonist_block"])
    for name, (variable, aff) in model.routes.items():
        u[..., ux[name]] = occupancy_sum(conc[variable], aff)
    a = model.cascade_p["mechanism.opioid.params.antagonist_occupancy"]
    if a > 0:  # competition with an antagonist: S/(1+S) -> S/(1+S+A)
        o = np.clip(u[..., ux["opioid"]], 0.0, 1.0 - 1e-12)
        s = o / (1.0 - o)
        u[..., ux["opioid"]] = s / (1.0 + s + a / (1.0 - a))
    return u


# ------------------------------------------------------------------------------------------ assembly
def _affinity(rows: list[tuple[int, float, float, float]]) -> Affinity:
    a = np.array(rows, dtype=float).reshape(-1, 4)
    return Affinity(a[:, 0].astype(int), a[:, 1], a[:, 2], a[:, 3])


def _target_rows(species: list[Species], target: str) -> list[tuple[int, float, float, float]]:
    rows = []
    for k, sp in enumerate(species):
        if target in sp.targets:
            ta = sp.targets[target]
            emax = ta.params.get("emax")
            rows.append((k, ta.affinity, ta.hill, emax.value if emax is not None else 1.0))
    return rows


def _charge_matrix(expression: Mapping[str, float], subunits: list[str], cells) -> np.ndarray:
    check_expression(expression, cells)
    out = np.zeros((3, len(subunits)))
    for ci, name in enumerate(POPULATIONS):
        w = charge_weights(cells[name])
        total = sum(w.values())
        for sub, wt in w.items():
            out[ci, subunits.index(sub)] = wt * expression.get(f"{name}.{sub}", 1.0) / total
    return out


def _drug_free(charge: np.ndarray, circuit: dict, scaling: np.ndarray) -> tuple[float, float]:
    """(resting NMDA Ca2+, glutamate) without drug."""
    avail0 = charge.sum(axis=-1)
    r0 = rates(avail0, circuit, scaling)
    return float(avail0[0]), float(circuit["outputs.release_factor"] * r0[0])


def _with_patient_values(p: dict, values: Mapping[str, np.ndarray] | None, P: int) -> dict:
    for key, v in (values or {}).items():
        if key not in p:
            raise KetasimError(f"no cascade parameter '{key}'", argument="patient_params")
        arr = np.asarray(v, dtype=float)
        if arr.shape != (P,):
            raise KetasimError(f"needs one value per patient ({P}), got shape {arr.shape}", argument=key)
        p[key] = arr
    return p


def _rest_inputs(ca: float, glu: float, cascade_p: Mapping, P: int) -> np.ndarray:
    u = np.zeros((P, len(cascade.INPUTS)))
    u[:, cascade.UX["ca"]] = ca
    u[:, cascade.UX["ampa"]] = glu * (1.0 - cascade_p["ampa.antagonist_block"])
    return u


def assemble(
    scenario: Scenario,
    arm: Arm | str,
    covariates: Covariates | None = None,
    library: Library | None = None,
    mechanisms: frozenset[str] | None = None,
    patient_params: Mapping[str, np.ndarray] | None = None,
) -> ArmModel:
    """Assemble one arm of ``scenario`` for the subjects in ``covariates`` (default: reference subject).

    ``patient_params`` gives per-patient values (arrays of length P) of cascade parameters, e.g. the
    BDNF release factor of each patient's Val66Met genotype."""
    library = library or scenario.library()
    arm = scenario.arm(arm) if isinstance(arm, str) else arm
    on = frozenset(scenario.mechanisms if mechanisms is None else mechanisms)
    physiology = default_physiology(scenario.species)
    covariates = covariates or Covariates.single(physiology["body.reference_weight"])
    P = covariates.n
    params = model_params(arm.perturbations)
    chronic = model_params(perturbations.chronic(arm.perturbations))
    cells = cell_types()
    subunits = sorted({s for c in cells.values() for s in c.subunits})

    pk = schedule = None
    species: list[Species] = []
    conc_index: dict[str, np.ndarray] = {v: np.zeros(0, dtype=int) for v in CONC_VARIABLES}
    if arm.regimen.doses:
        pk = build_model(arm.regimen, covariates, library, physiology, species=scenario.species)
        schedule = build_schedule(pk, arm.regimen, library)
        species = pk.species
        conc_index = {v: np.array([pk.state(sp.id, v) for sp in species], dtype=int) for v in CONC_VARIABLES}

    terms: list[BlockTerm] = []
    for ci, name in enumerate(POPULATIONS):
        cell = cells[name]
        for sub in cell.subunits:
            rows = []
            for k, sp in enumerate(species):
                b = blocker_for(sp, sub)
                if b is not None:
                    kon, koff = per_period_rates(b, sub, cell.activity_hz, cell.potential_mv, cell.mg_mm)
                    rows.append((k, kon * PER_HOUR, koff * PER_HOUR))
            if rows:
                a = np.array(rows)
                idx = a[:, 0].astype(int)
                terms.append(BlockTerm(ci, subunits.index(sub), cell.subunits[sub], idx, a[:, 1], a[:, 2]))
    nam: list[Affinity | None] = []
    for sub in subunits:
        rows = []
        for k, sp in enumerate(species):
            mod = modulator_for(sp, sub)
            if mod is not None:
                rows.append((k, mod.kd, 1.0, mod.efficacy))
        nam.append(_affinity(rows) if rows else None)

    charge = _charge_matrix(params.expression, subunits, cells)
    adapted = _charge_matrix(chronic.expression, subunits, cells).sum(axis=-1)
    circuit = dict(params.circuit)
    scaling = np.asarray(ampa_scaling(adapted, circuit), dtype=float)
    routes = {}
    for name, (target, variable, switch) in ROUTE_TARGETS.items():
        if switch in on:
            rows = _target_rows(species, target)
            routes[name] = (variable, _affinity(rows))
    pot_rows = _target_rows(species, "ampa_potentiation")
    potentiation_ = _affinity(pot_rows) if ("hnk_ampa" in on and pot_rows) else None

    depressed = scenario.condition == "depressed"
    p = _with_patient_values(dict(params.cascade), patient_params, P)
    # spines are adapted to the drug-free state with the chronic (genetic) perturbations only
    chronic_circuit = dict(chronic.circuit)
    ca_c, glu_c = _drug_free(
        _charge_matrix(chronic.expression, subunits, cells),
        chronic_circuit,
        np.asarray(ampa_scaling(adapted, chronic_circuit), dtype=float),
    )
    y_adapted = cascade.steady_state(
        _rest_inputs(ca_c, glu_c, chronic.cascade, P), dict(chronic.cascade), depressed
    )
    ref = y_adapted[:, cascade.IX["synaptic_protein"]]
    ca0, glu0 = _drug_free(charge, circuit, scaling)
    y0 = cascade.steady_state(_rest_inputs(ca0, glu0, p, P), p, depressed, ref)
    return ArmModel(
        scenario=scenario,
        arm=arm,
        mechanisms=on,
        covariates=covariates,
        library=library,
        params=params,
        pk=pk,
        schedule=schedule,
        species=species,
        conc_index=conc_index,
        subunits=subunits,
        block_terms=terms,
        charge=charge,
        nam=nam,
        circuit=circuit,
        scaling=scaling,
        routes=routes,
        potentiation=potentiation_,
        sedation=_affinity(_target_rows(species, "gabaa_bz")),
        rest_ca=np.full(P, ca0),
        rest_glutamate=np.full(P, glu0),
        cascade_p=p,
        depressed=depressed,
        protein_ref=ref,
        y0=y0,
    )


# Equations of the coupling between scales, for the generated methods document (ketasim.methods_doc).
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "NMDA conductance available",
        "latex": r"g_c = \sum_s w_{c,s} (1 - n_s)(1 - b_{c,s}),\qquad "
        r"w_{c,s} \propto x_{c,s}\, \bar P_{O,free,s}",
        "meaning": "Per population c (pyramidal, PV, SST), relative to drug-free: the charge weight of "
        "each subunit (share x mean unblocked open fraction, normalised) left after modulators and block.",
        "source": "ketasim.circuit.model.charge_weights; data/cell_types.toml",
        "code": "ketasim.model_assembly.available",
    },
    {
        "name": "Occupancy of a target",
        "latex": r"\theta = \frac{S}{1 + S},\qquad S = \sum_i \left(\frac{C_i}{K_i}\right)^{n_i}",
        "meaning": "Competitive occupancy by every species acting on the target (routes of the "
        "hypothesis switches; sedation at the benzodiazepine site).",
        "source": "Affinities in data/compounds/*.toml [targets]",
        "code": "ketasim.model_assembly.occupancy_sum",
    },
    {
        "name": "AMPA potentiation",
        "latex": r"\pi = \sum_i E_{max,i} \frac{x_i}{1 + x_i},\quad x_i = \left(\frac{C_i}{K_i}\right)^{n_i}",
        "meaning": "Each species potentiates AMPA transmission alone (hnk_ampa switch).",
        "source": "data/compounds/*.toml [targets.ampa_potentiation]",
        "code": "ketasim.model_assembly.potentiation",
    },
    {
        "name": "Cascade inputs",
        "latex": r"u_{ca} = g_{pyr},\qquad u_{ampa} = \rho\, r_E\, (1 + \pi)(1 - \beta_{AMPA})",
        "meaning": "Resting NMDA Ca2+ follows the pyramidal conductance (resting_nmda switch); AMPA "
        "activation follows glutamate release rho r_E (disinhibition switch); a switch that is off "
        "holds its input at the drug-free value.",
        "source": "Seeds 000-004 (hypotheses); data/circuit.toml, data/signalling.toml",
        "code": "ketasim.model_assembly.cascade_inputs",
    },
    {
        "name": "Opioid antagonist competition",
        "latex": r"u_{op} = \frac{S}{1 + S + A/(1 - A)}",
        "meaning": "A co-administered antagonist at occupancy A competes with the drug (naltrexone).",
        "source": "Single-site competition; data/perturbations.toml",
        "code": "ketasim.model_assembly.cascade_inputs",
    },
)
