"""Assembly of the linear PK system for a regimen and a batch of patients.

Each species (an enantiomer of the parent or of a metabolite) has a central compartment and up
to two peripheral compartments (a mammillary model), absorption depots for the routes in use,
and two sinks that close the mass balance: ``eliminated`` (renal excretion and metabolism to
species that are not simulated) and ``unabsorbed`` (dose never absorbed, e.g. to faeces).
Metabolism to a simulated species moves moles into that species' central compartment.

Hepatic pathways use the well-stirred liver model (Rowland M, Benet LZ, Graham GG 1973,
J Pharmacokinet Biopharm 1:123): each compound file gives the systemic plasma clearance of each
pathway in the reference adult; with hepatic blood flow Q_H and the blood/plasma ratio this
fixes the intrinsic clearance of each pathway. Patient factors (weight, CYP2B6 genotype,
inhibitors and inducers) act on intrinsic clearances, and the hepatic extraction E_H then gives
both the systemic clearance and the first-pass availability F_H = 1 - E_H of swallowed drug.
Oral bioavailability is thus an output: F = fa * fg * F_H, never an input. Drug lost in the gut
wall or the liver on first pass forms the products of the liver pathways in proportion to their
intrinsic clearances.

Intranasal and sublingual doses follow the structure of Perez-Ruixo C et al. 2021 (Clin
Pharmacokinet 60:501): a fraction is absorbed through the mucosa straight into the circulation
and the rest is swallowed and follows the oral path.

Brain and cells: unbound plasma drug exchanges with brain extracellular fluid (ECF), ECF with
the cytosol, and the cytosol with lysosomes, each by passive diffusion of the neutral species
(see :mod:`ketasim.brain.partition`). These are concentration states (µM) driven by plasma and
do not draw mass from it: brain tissue is already part of the systemic volumes.

All volumes scale with (W/70)^1 and all clearances (including intrinsic clearances and hepatic
blood flow) with (W/70)^0.75 (Anderson BJ, Holford NHG 2008, Annu Rev Pharmacol Toxicol 48:303).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ketasim.brain.cell import cell_rates
from ketasim.compounds import Library, Species, default_library
from ketasim.dosing import Dose, Regimen
from ketasim.errors import KetasimError
from ketasim.physiology import Physiology, default_physiology
from ketasim.pk.covariates import Covariates
from ketasim.provenance import SourceList

DEPOT_FOR_ROUTE = {
    "oral": ("gut",),
    "intranasal": ("nasal", "gut"),
    "sublingual": ("mucosa", "gut"),
    "im": ("muscle",),
    "ip": ("peritoneum",),
}
AMOUNT_ROLES = (
    "central",
    "periph1",
    "periph2",
    "gut",
    "nasal",
    "mucosa",
    "muscle",
    "peritoneum",
    "eliminated",
    "unabsorbed",
)
CONC_ROLES = ("brain_ecf", "cytosol", "lysosome")


@dataclass(frozen=True)
class State:
    """One state variable: the species it belongs to, its role and whether it is an amount."""

    name: str
    species: str  # species id
    role: str

    @property
    def is_amount(self) -> bool:
        return self.role in AMOUNT_ROLES


@dataclass
class PKModel:
    """A linear system dx/dt = A x + b(t) for P patients (A has shape P x n x n)."""

    species: list[Species]
    states: list[State]
    A: np.ndarray
    v1: np.ndarray  # (P, S) central volume, L
    fu: np.ndarray  # (S,)
    hepatic_availability: np.ndarray  # (P, S) F_H = 1 - E_H
    systemic_clearance: np.ndarray  # (P, S) total, L/h
    covariates: Covariates
    sources: SourceList

    def __post_init__(self) -> None:
        self.index = {s.name: i for i, s in enumerate(self.states)}
        self.species_index = {sp.id: k for k, sp in enumerate(self.species)}
        self.amount_mask = np.array([s.is_amount for s in self.states])

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_patients(self) -> int:
        return self.A.shape[0]

    def state(self, species: str, role: str) -> int:
        key = f"{species}.{role}"
        if key not in self.index:
            raise KetasimError(f"the model has no state '{key}'", argument="state")
        return self.index[key]

    def rhs(self, t: float, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        """dx/dt for states ``x`` (P x n) and input rates ``b`` (P x n). Pure; ``t`` is unused."""
        return np.einsum("pij,pj->pi", self.A, x) + b

    def dose_inputs(self, dose: Dose, library: Library) -> tuple[np.ndarray, str]:
        """Where a dose goes: (vector P x n of µmol for a bolus, or µmol/h for an infusion, kind)."""
        compound = library.get(dose.compound, "compound")
        total = dose.micromoles(compound.mw, self.covariates.weight)  # (P,)
        vec = np.zeros((self.n_patients, self.n_states))
        for sid, frac in compound.components.items():
            sp = self.species[self.species_index[sid]]
            amount = frac * total
            if dose.route == "iv":
                vec[:, self.state(sid, "central")] += amount / dose.duration if dose.duration > 0 else amount
                continue
            table = _route_table(sp, dose.route)
            if dose.route == "oral":
                vec[:, self.state(sid, "gut")] += amount
            elif dose.route == "im":
                vec[:, self.state(sid, "muscle")] += amount
            elif dose.route == "ip":
                vec[:, self.state(sid, "peritoneum")] += amount
            elif dose.route == "intranasal":
                odds = table["f_nasal"].value / (1.0 - table["f_nasal"].value)
                odds = odds * self.covariates.pk_factor("f_nasal")
                f = odds / (1.0 + odds)
                vec[:, self.state(sid, "nasal")] += f * amount
                vec[:, self.state(sid, "gut")] += (1 - f) * amount
            elif dose.route == "sublingual":
                f = table["f_mucosal"].value
                vec[:, self.state(sid, "mucosa")] += f * amount
                vec[:, self.state(sid, "gut")] += (1 - f) * amount
        return vec, ("rate" if dose.route == "iv" and dose.duration > 0 else "bolus")


def _route_table(sp: Species, route: str):
    if route not in sp.absorption:
        have = ", ".join(["iv", *sorted(sp.absorption)])
        raise KetasimError(
            f"compound '{sp.id}' has no absorption parameters for route '{route}'",
            argument="route",
            fix=f"routes available for it: {have}",
        )
    return sp.absorption[route]


def _first_pass(
    A: np.ndarray, src: int, loss: np.ndarray, products: list[int], share: list, sink: int
) -> None:
    """Drug metabolised on first pass forms the liver pathways' products (or is eliminated)."""
    if products:
        for dest, h in zip(products, share, strict=True):
            A[:, dest, src] += loss * h
    else:
        A[:, sink, src] += loss


def build_model(
    regimen: Regimen | Iterable[Dose],
    covariates: Covariates | None = None,
    library: Library | None = None,
    physiology: Physiology | None = None,
    extra_compounds: Iterable[str] = (),
    species: str = "human",
) -> PKModel:
    """Assemble the PK system for the compounds in ``regimen`` and their metabolites in ``species``."""
    library = library or default_library()
    physiology = physiology or default_physiology(species)
    if physiology.species != species:
        raise KetasimError(f"physiology is for {physiology.species}, not {species}", argument="physiology")
    covariates = covariates or Covariates.single(physiology["body.reference_weight"])
    if not isinstance(regimen, Regimen):
        regimen = Regimen(tuple(regimen))
    roots = [*regimen.compounds, *extra_compounds]
    if not roots:
        raise KetasimError("the regimen has no doses and no compounds were named", argument="regimen")
    for d in regimen.doses:
        library.get(d.compound, "compound")
    animal = species
    species = library.closure(roots, animal)
    by_id = {sp.id: sp for sp in species}
    # which depots each species needs: those of the routes by which it (as a component) is dosed
    depots: dict[str, set[str]] = {sp.id: set() for sp in species}
    for d in regimen.doses:
        for sid in library.get(d.compound).components:
            if d.route != "iv":
                _route_table(by_id[sid], d.route)
                for dep in DEPOT_FOR_ROUTE[d.route]:
                    depots[sid].add(dep)

    states: list[State] = []
    for sp in species:
        roles = ["central"]
        if "q2" in sp.pk:
            roles.append("periph1")
        if "q3" in sp.pk:
            roles.append("periph2")
        roles += [r for r in ("gut", "nasal", "mucosa", "muscle", "peritoneum") if r in depots[sp.id]]
        roles += ["eliminated", "unabsorbed", *CONC_ROLES]
        states += [State(f"{sp.id}.{r}", sp.id, r) for r in roles]
    index = {s.name: i for i, s in enumerate(states)}
    n, P = len(states), covariates.n
    A = np.zeros((P, n, n))
    sources = SourceList()
    for key in (
        "body.reference_weight",
        "body.allometric_exponent_cl",
        "body.allometric_exponent_v",
        "liver.hepatic_blood_flow",
        "ph.plasma",
        "ph.brain_ecf",
        "ph.cytosol",
        "ph.lysosome",
        "cell.k_cell",
        "cell.k_lysosome",
        "cell.lysosome_volume_fraction",
    ):
        sources.add(f"physiology.{key}", physiology.params[key])

    rel = covariates.weight / physiology["body.reference_weight"]
    fcl = rel ** physiology["body.allometric_exponent_cl"]
    fv = rel ** physiology["body.allometric_exponent_v"]
    qh = physiology["liver.hepatic_blood_flow"] * fcl * covariates.pk_factor("hepatic_blood_flow")
    S = len(species)
    v1_all = np.zeros((P, S))
    fh_all = np.ones((P, S))
    cl_all = np.zeros((P, S))
    fu_all = np.zeros(S)

    for k, sp in enumerate(species):
        for key, p in sp.params().items():
            sources.add(key, p)
        i = lambda role, _sp=sp: index[f"{_sp.id}.{role}"]  # noqa: E731
        c = i("central")
        v1 = sp.pk["v1"].value * fv * covariates.pk_factor("v1")
        v1_all[:, k] = v1
        fu = sp.properties["fu"].value
        fu_all[k] = fu
        bp = sp.properties["blood_plasma_ratio"].value

        # --- elimination pathways (well-stirred liver for hepatic ones)
        liver = [e for e in sp.elimination if e.organ == "liver"]
        cl_liver_ref = sum(e.cl.value for e in liver)
        qh_ref = physiology["liver.hepatic_blood_flow"]
        if cl_liver_ref / bp >= qh_ref:
            raise KetasimError(
                f"hepatic blood clearance {cl_liver_ref / bp:.1f} L/h reaches hepatic blood flow "
                f"{qh_ref:.1f} L/h",
                argument=f"{sp.path}: pk.elimination",
                fix='assign clearance beyond what the liver can extract to organ = "other"',
            )
        e_ref = (cl_liver_ref / bp) / qh_ref
        xint_total_ref = qh_ref * e_ref / (1 - e_ref) if liver else 0.0  # blood-based fu_b*CLint, L/h
        xint = [
            (xint_total_ref * e.cl.value / cl_liver_ref if cl_liver_ref > 0 else 0.0)
            * fcl
            * covariates.activity(e.enzyme or "", physiology)
            for e in liver
        ]
        xsum = np.sum(xint, axis=0) if liver else np.zeros(P)
        eh = xsum / (qh + xsum)
        fh_all[:, k] = 1 - eh
        cl_hep_plasma = bp * qh * eh
        share = [np.divide(x, xsum, out=np.zeros(P), where=xsum > 0) for x in xint]
        cl_total = np.zeros(P)
        for e, h in zip(liver, share, strict=True):
            cl = cl_hep_plasma * h
            dest = index[f"{e.product}.central"] if e.product else i("eliminated")
            A[:, dest, c] += cl / v1
            cl_total += cl
        for e in sp.elimination:
            if e.organ == "liver":
                continue
            cl = e.cl.value * fcl
            dest = index[f"{e.product}.central"] if e.product else i("eliminated")
            A[:, dest, c] += cl / v1
            cl_total += cl
        cl_all[:, k] = cl_total
        A[:, c, c] -= cl_total / v1

        # --- distribution
        for q, v, role in (("q2", "v2", "periph1"), ("q3", "v3", "periph2")):
            if q in sp.pk:
                Q = sp.pk[q].value * fcl
                V = sp.pk[v].value * fv
                p_ = i(role)
                A[:, c, c] -= Q / v1
                A[:, p_, c] += Q / v1
                A[:, c, p_] += Q / V
                A[:, p_, p_] -= Q / V

        # --- absorption depots
        products = [index[f"{e.product}.central"] if e.product else i("eliminated") for e in liver]
        if "gut" in depots[sp.id]:
            t = sp.absorption["oral"]
            ka, fa, fg = t["ka"].value, t["fa"].value, t["fg"].value
            g = i("gut")
            A[:, g, g] -= ka
            A[:, i("unabsorbed"), g] += ka * (1 - fa)
            A[:, c, g] += ka * fa * fg * (1 - eh)
            _first_pass(
                A, g, ka * fa * (1 - fg * (1 - eh)), products, share, i("eliminated")
            )  # gut wall + liver
        if "peritoneum" in depots[sp.id]:
            # intraperitoneal: a fraction drains through the portal vein and meets the liver first
            t = sp.absorption["ip"]
            ka, fp = t["ka"].value, t["f_portal"].value
            pe = i("peritoneum")
            A[:, pe, pe] -= ka
            A[:, c, pe] += ka * ((1 - fp) + fp * (1 - eh))
            _first_pass(A, pe, ka * fp * eh, products, share, i("eliminated"))
        for role, route, kname in (
            ("nasal", "intranasal", "ka_nasal"),
            ("mucosa", "sublingual", "ka_mucosal"),
        ):
            if role in depots[sp.id]:
                ka = sp.absorption[route][kname].value * covariates.pk_factor(kname)
                A[:, i(role), i(role)] -= ka
                A[:, c, i(role)] += ka
        if "muscle" in depots[sp.id]:
            t = sp.absorption["im"]
            ka, f = t["ka"].value, t["f"].value
            m = i("muscle")
            A[:, m, m] -= ka
            A[:, c, m] += ka * f
            A[:, i("eliminated"), m] += ka * (1 - f)

        # --- brain ECF, cytosol, lysosome (concentrations, µM), neutral-species exchange
        r = cell_rates(sp, physiology)
        if "k_bbb" not in sp.brain:
            sources.add("physiology.cell.k_bbb", physiology.params["cell.k_bbb"])
        e_, cy, ly = i("brain_ecf"), i("cytosol"), i("lysosome")
        A[:, e_, c] += r.k_bbb * r.f_plasma * fu / v1
        assert (cy, ly) == (e_ + 1, e_ + 2), "ECF, cytosol and lysosome states must be contiguous"
        A[:, e_ : ly + 1, e_ : ly + 1] += r.cell_matrix()

    return PKModel(species, states, A, v1_all, fu_all, fh_all, cl_all, covariates, sources)


# Equations of the dosing and PK scale, for the generated methods document (ketasim.methods_doc).
# ``code`` names the function that implements each one.
EQUATIONS: tuple[dict[str, str], ...] = (
    {
        "name": "Central compartment",
        "latex": r"\frac{dA_c}{dt} = R_{in}(t) + \sum_r k_{a,r} F_r A_r + \sum_{j \to i} CL_{j \to i}"
        r" \frac{A_{c,j}}{V_{1,j}} - \frac{CL}{V_1} A_c - \sum_{k} Q_k \left(\frac{A_c}{V_1}"
        r" - \frac{A_k}{V_k}\right)",
        "meaning": "Amount of one species (an enantiomer of parent or metabolite) in plasma: infusion, "
        "absorption from depots, formation from its parent species, elimination, distribution.",
        "source": "Linear mammillary model; pathways and values in data/compounds/*.toml",
        "code": "ketasim.pk.model.build_model",
    },
    {
        "name": "Peripheral compartments",
        "latex": r"\frac{dA_k}{dt} = Q_k \left(\frac{A_c}{V_1} - \frac{A_k}{V_k}\right),\quad k = 2, 3",
        "meaning": "Up to two peripheral compartments per species.",
        "source": "Linear mammillary model",
        "code": "ketasim.pk.model.build_model",
    },
    {
        "name": "Allometric scaling",
        "latex": r"V = V_{ref} \left(\frac{W}{W_{ref}}\right)^{b_V},\quad "
        r"CL,\,Q,\,Q_H,\,CL_{int} \propto \left(\frac{W}{W_{ref}}\right)^{b_{CL}}",
        "meaning": "Volumes scale with weight (b_V = 1), flows and clearances with b_CL = 0.75.",
        "source": "Anderson BJ, Holford NHG 2008, Annu Rev Pharmacol Toxicol 48:303",
        "code": "ketasim.pk.model.build_model",
    },
    {
        "name": "Between-patient PK factors",
        "latex": r"V_{1,i} = V_1\, \eta_{V,i},\quad Q_{H,i} = Q_H\, \eta_{Q,i},\quad "
        r"k_{a,nasal,i} = k_{a,nasal}\, \eta_{k,i},\quad "
        r"\frac{f_{nasal,i}}{1 - f_{nasal,i}} = \eta_{f,i} \frac{f_{nasal}}{1 - f_{nasal}}",
        "meaning": "Patient i's factors multiply the typical values (after weight scaling); the nasal "
        "fraction varies on the odds scale so it stays between 0 and 1.",
        "source": "Variability in data/populations/*.toml [variability]; ketasim.pk.covariates.PK_FACTORS",
        "code": "ketasim.pk.covariates.Covariates.pk_factor",
    },
    {
        "name": "Well-stirred liver",
        "latex": r"E_{ref} = \frac{CL_{H,ref}}{B{:}P\; Q_H},\quad X_{ref} = \frac{Q_H E_{ref}}{1 - E_{ref}},"
        r"\quad X = \sum_e X_{ref} \frac{CL_e}{CL_{H,ref}} a_e,\quad E_H = \frac{X}{Q_H + X},"
        r"\quad CL_H = B{:}P\; Q_H E_H",
        "meaning": "Each hepatic pathway's intrinsic clearance is fixed from the reference clearance; "
        "patient factors a_e (genotype, inhibitors, inducers, weight) act on it.",
        "source": "Rowland M, Benet LZ, Graham GG 1973, J Pharmacokinet Biopharm 1:123",
        "code": "ketasim.pk.model.build_model",
    },
    {
        "name": "Oral absorption and first pass",
        "latex": r"\frac{dA_{gut}}{dt} = -k_a A_{gut},\quad "
        r"\text{to plasma: } k_a f_a f_g (1 - E_H) A_{gut},\quad "
        r"\text{first-pass metabolism: } k_a f_a \left(1 - f_g (1 - E_H)\right) A_{gut}",
        "meaning": "Swallowed drug: unabsorbed fraction 1 - f_a to faeces; first-pass loss forms the "
        "products of the liver pathways. Oral bioavailability F = f_a f_g (1 - E_H) is an output.",
        "source": "Well-stirred liver (Rowland 1973); f_a, f_g in data/compounds/*.toml",
        "code": "ketasim.pk.model.build_model",
    },
    {
        "name": "Intranasal and sublingual doses",
        "latex": r"A_{nasal}(0) = f_{nasal} D,\quad A_{gut}(0) = (1 - f_{nasal}) D,\quad "
        r"\frac{dA_{nasal}}{dt} = -k_{a,nasal} A_{nasal}",
        "meaning": "A fraction is absorbed through the mucosa straight into plasma, the rest is "
        "swallowed and follows the oral path (sublingual likewise with f_mucosal).",
        "source": "Perez-Ruixo C et al. 2021, Clin Pharmacokinet 60:501",
        "code": "ketasim.pk.model.PKModel.dose_inputs",
    },
    {
        "name": "Intramuscular dose",
        "latex": r"\frac{dA_{im}}{dt} = -k_a A_{im},\quad \text{to plasma: } k_a F A_{im}",
        "meaning": "First-order absorption from muscle with bioavailability F.",
        "source": "data/compounds/*.toml (absorption.im)",
        "code": "ketasim.pk.model.build_model",
    },
)
