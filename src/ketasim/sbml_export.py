"""SBML export of an assembled arm for one patient (python-libsbml), readable by libRoadRunner and COPASI.

The document holds the same equations and numbers as :mod:`ketasim.engine.full_reference`:

- PK: every state of the linear system (amounts in µmol; brain ECF, cytosol and lysosome in µM) is a
  parameter with a rate rule ``dx_i/dt = sum_j a_i_j x_j + inf_i``; each nonzero coefficient is a
  named constant ``a__<to>__<from>`` (1/h). Boluses after time 0 and infusion switches are events at
  the dosing breakpoints; doses at time 0 are the initial values.
- Pore block per receptor population and species: ``db/dt = on C (1 - sum b) - off b``.
- Allosteric modulators, available NMDA conductance, the circuit fixed point and the cascade inputs
  are assignment rules. The threshold-linear fixed point is written out for each of the eight sets
  of active populations (the linear system solved symbolically) and the first self-consistent set
  is taken, as in :func:`ketasim.circuit.network.fixed_point`.
- The signalling cascade and the spines are rate rules transcribed from
  :func:`ketasim.signalling.cascade.rhs` and :func:`ketasim.structure.spines.spine_rate`.

Time is in hours. Identifiers are the model's names with characters outside [A-Za-z0-9_] replaced.
"""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np

from ketasim import __version__
from ketasim.circuit.network import POPULATIONS, connectivity
from ketasim.errors import KetasimError
from ketasim.model_assembly import ArmModel
from ketasim.signalling import cascade
from ketasim.structure.spines import RAMP_WIDTH, condition_factors

_TOL = 1e-9


def sid(name: str) -> str:
    """A valid SBML identifier for ``name``."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if re.match(r"[A-Za-z_]", s) else f"n_{s}"


def _num(v: float) -> str:
    return repr(float(v))


class _Builder:
    """Builds the SBML document, and records the value of every parameter and initial value.

    With ``dry=True`` only the values are recorded (no libsbml objects): that is how the values of
    another patient are computed for a document that was built once."""

    def __init__(self, model_id: str, dry: bool = False):
        self.dry = dry
        self.ids: set[str] = set()
        self.values: dict[str, float] = {}  # constants and initial values of rate-rule variables
        if dry:
            return
        import libsbml

        self.sbml = libsbml
        self.doc = libsbml.SBMLDocument(3, 2)
        self.model = self.doc.createModel()
        self.model.setId(sid(model_id))

    def _check(self, code: int, what: str) -> None:
        if code != self.sbml.LIBSBML_OPERATION_SUCCESS:
            reason = self.sbml.OperationReturnValue_toString(code)
            raise RuntimeError(f"libsbml could not set {what}: {reason}")

    def _math(self, formula: str):
        ast = self.sbml.parseL3Formula(formula)
        if ast is None:
            raise RuntimeError(f"libsbml cannot parse '{formula}': {self.sbml.getLastParseL3Error()}")
        return ast

    def parameter(self, name: str, value: float, constant: bool = True) -> str:
        if name in self.ids:
            raise RuntimeError(f"duplicate SBML id {name}")
        self.ids.add(name)
        self.values[name] = float(value)
        if self.dry:
            return name
        p = self.model.createParameter()
        self._check(p.setId(name), name)
        self._check(p.setValue(float(value)), f"{name} value")
        self._check(p.setConstant(constant), f"{name} constant")
        return name

    def function(self, name: str, args: list[str], body: str) -> None:
        if self.dry:
            return
        f = self.model.createFunctionDefinition()
        f.setId(name)
        f.setMath(self._math(f"lambda({', '.join([*args, body])})"))

    def assign(self, name: str, formula: str) -> str:
        self.parameter(name, 0.0, constant=False)
        del self.values[name]  # computed, not set
        if self.dry:
            return name
        r = self.model.createAssignmentRule()
        r.setVariable(name)
        self._check(r.setMath(self._math(formula)), f"assignment {name}")
        return name

    def rate(self, name: str, initial: float, formula: str) -> str:
        self.parameter(name, initial, constant=False)
        if self.dry:
            return name
        r = self.model.createRateRule()
        r.setVariable(name)
        self._check(r.setMath(self._math(formula)), f"rate rule {name}")
        return name

    def event(self, name: str, at: float, assignments: dict[str, str]) -> None:
        if self.dry:
            return
        e = self.model.createEvent()
        e.setId(name)
        e.setUseValuesFromTriggerTime(True)
        trig = e.createTrigger()
        trig.setInitialValue(True)
        trig.setPersistent(True)
        trig.setMath(self._math(f"time >= {_num(at)}"))
        for var, formula in assignments.items():
            a = e.createEventAssignment()
            a.setVariable(var)
            a.setMath(self._math(formula))

    def to_string(self) -> str:
        return self.sbml.writeSBMLToString(self.doc)


def _pk(b: _Builder, m: ArmModel, p: int) -> dict[str, dict[int, str]]:
    """PK states, coefficients, dosing events; returns concentration ids by variable and species index."""
    pk, sch = m.pk, m.schedule
    names = [f"x_{sid(s.name)}" for s in pk.states]
    A = pk.A[p]
    n = len(names)
    rates = sch.rates[:, p]
    # structure from all patients of the model, values of this one (so another patient's values fit)
    coupled = np.any(pk.A != 0.0, axis=0)
    infused = np.any(sch.rates != 0.0, axis=(0, 1))
    bolused = np.any(sch.boluses != 0.0, axis=1)  # (K, n)
    inf = [
        b.parameter(f"inf_{names[i][2:]}", rates[0, i], constant=False) if infused[i] else None
        for i in range(n)
    ]
    for i in range(n):
        terms = []
        for j in range(n):
            if coupled[i, j]:
                c = b.parameter(f"a__{names[i][2:]}__{names[j][2:]}", A[i, j])
                terms.append(f"{c} * {names[j]}")
        if inf[i]:
            terms.append(inf[i])
        b.rate(names[i], sch.boluses[0, p, i], " + ".join(terms) if terms else "0")
    changes = np.any(np.diff(sch.rates, axis=0) != 0.0, axis=1)  # (K - 1, n)
    for k in range(1, sch.breakpoints.size):
        assign = {}
        for i in range(n):
            if bolused[k, i]:
                amount = b.parameter(f"bolus_{k}_{names[i][2:]}", sch.boluses[k, p, i])
                assign[names[i]] = f"{names[i]} + {amount}"
            if inf[i] and changes[k - 1, i]:
                assign[inf[i]] = b.parameter(f"rate_{k}_{names[i][2:]}", rates[k, i])
        if assign:
            b.event(f"dose_{k}", sch.breakpoints[k], assign)
    conc: dict[str, dict[int, str]] = {}
    for var, idx in m.conc_index.items():
        conc[var] = {}
        for k, i in enumerate(idx):
            conc[var][k] = b.assign(f"c_{var}_{sid(m.species[k].id)}", f"pos({names[i]})")
    for k, sp in enumerate(m.species):
        v1 = b.parameter(f"v1_{sid(sp.id)}", pk.v1[p, k])
        b.assign(f"c_plasma_{sid(sp.id)}", f"{names[pk.state(sp.id, 'central')]} / {v1}")
    return conc


def _block_and_conductance(b: _Builder, m: ArmModel, conc: dict[str, dict[int, str]]) -> list[str]:
    ecf = conc.get("brain_ecf", {})
    block_of: dict[tuple[int, int], str] = {}
    for term in m.block_terms:
        tag = f"{POPULATIONS[term.cell]}_{sid(m.subunits[term.subunit])}"
        bs = [f"b_{tag}_{sid(m.species[k].id)}" for k in term.species]
        free = "(1 - " + " - ".join(bs) + ")"
        for name, k, on, off in zip(bs, term.species, term.on, term.off, strict=True):
            kon = b.parameter(f"kon_{name[2:]}", on)
            koff = b.parameter(f"koff_{name[2:]}", off)
            b.rate(name, 0.0, f"{kon} * {ecf[int(k)]} * {free} - {koff} * {name}")
        block_of[(term.cell, term.subunit)] = b.assign(f"block_{tag}", " + ".join(bs))
    for c, pop in enumerate(POPULATIONS):
        parts = [f"{_num(t.share)} * {block_of[(t.cell, t.subunit)]}" for t in m.block_terms if t.cell == c]
        b.assign(f"nmda_block_{pop}", " + ".join(parts) if parts else "0")
    nam_of = {}
    for s, aff in enumerate(m.nam):
        if aff is None:
            continue
        ratios = [f"({ecf[int(k)]} / {_num(kd)})" for k, kd in zip(aff.species, aff.affinity, strict=True)]
        weighted = " + ".join(f"{_num(e)} * {r}" for e, r in zip(aff.scale, ratios, strict=True))
        nam_of[s] = b.assign(f"nam_{sid(m.subunits[s])}", f"({weighted}) / (1 + {' + '.join(ratios)})")
    avail = []
    for c, pop in enumerate(POPULATIONS):
        terms = []
        for s in range(len(m.subunits)):
            w = m.charge[c, s]
            if w == 0.0:
                continue
            f = _num(w)
            if (c, s) in block_of:
                f += f" * (1 - {block_of[(c, s)]})"
            if s in nam_of:
                f += f" * (1 - {nam_of[s]})"
            terms.append(f)
        avail.append(b.assign(f"available_{pop}", " + ".join(terms) if terms else "0"))
    return avail


@functools.lru_cache(maxsize=1)
def _fixed_point_formulas() -> list[tuple[tuple[int, ...], list[str], list[str]]]:
    """For each active set: rate formulas of the 3 populations and its consistency conditions,
    in terms of W_i_j and h_i (sympy solves the linear system on the active set)."""
    import sympy as sp

    W = sp.Matrix(3, 3, lambda i, j: sp.Symbol(f"W_{i}_{j}"))
    h = sp.Matrix(3, 1, lambda i, _: sp.Symbol(f"h_{i}"))
    out = []
    for mask in itertools.product((0, 1), repeat=3):
        act = [i for i in range(3) if mask[i]]
        r = [sp.Integer(0)] * 3
        if act:
            M = sp.eye(len(act)) - W.extract(act, act)
            sol = M.LUsolve(h.extract(act, [0]))
            for n_, i in enumerate(act):
                r[i] = sol[n_]
        conds = []
        for i in range(3):
            if mask[i]:
                conds.append(f"(r{''.join(map(str, mask))}_{i} > {-_TOL})")
            else:
                drive = " + ".join(f"W_{i}_{j} * r{''.join(map(str, mask))}_{j}" for j in range(3))
                conds.append(f"({drive} + h_{i} <= {_TOL})")
        out.append((mask, [sp.sstr(e).replace("**", "^") for e in r], conds))
    return out


def _circuit(b: _Builder, m: ArmModel, avail: list[str]) -> list[str]:
    q = m.circuit
    share = [q["pyramidal.nmda_share"], q["pv.nmda_share"], q["sst.nmda_share"]]
    drive = [
        b.assign(
            f"drive_{pop}", f"{_num(1 - share[c])} * {_num(m.scaling[c])} + {_num(share[c])} * {avail[c]}"
        )
        for c, pop in enumerate(POPULATIONS)
    ]
    # weights at full drive (m = 1) from the circuit's own connectivity: excitatory inputs (column E of W
    # and h_E) scale with each population's drive, inhibitory ones and thresholds do not
    W1, h1 = connectivity(np.ones(3), q, 1.0)
    entries = {
        f"W_{i}_{j}": (f"{_num(W1[i, j])} * {drive[i]}" if j == 0 else _num(W1[i, j]))
        for i in range(3)
        for j in range(3)
    }
    entries.update({"h_0": f"{_num(h1[0])} * {drive[0]}", "h_1": _num(h1[1]), "h_2": _num(h1[2])})
    for k, v in entries.items():
        b.assign(k, v)
    pieces: list[list[str]] = [[], [], []]
    for mask, formulas, conds in _fixed_point_formulas():
        tag = "".join(map(str, mask))
        for i in range(3):
            b.assign(f"r{tag}_{i}", formulas[i])
        ok = b.assign(f"ok{tag}", f"piecewise(1, {' && '.join(conds)}, 0)")
        for i in range(3):
            pieces[i].append(f"pos(r{tag}_{i}), {ok} > 0.5")
    return [
        b.assign(f"rate_{pop}", f"piecewise({', '.join(pieces[i])}, NaN)")
        for i, pop in enumerate(POPULATIONS)
    ]


def _inputs(b: _Builder, m: ArmModel, p: int, conc, avail: list[str], rates: list[str]) -> dict[str, str]:
    on = m.mechanisms
    glu = b.assign("glutamate", f"{_num(m.circuit['outputs.release_factor'])} * {rates[0]}")
    u = {}
    rest_ca = b.parameter("rest_ca", m.rest_ca[p])
    rest_glu = b.parameter("rest_glutamate", m.rest_glutamate[p])
    u["ca"] = b.assign("u_ca", avail[0] if "resting_nmda" in on else rest_ca)
    ecf = conc.get("brain_ecf", {})
    pot = "0"
    if m.potentiation is not None:
        a = m.potentiation
        parts = []
        for k, K, n, e in zip(a.species, a.affinity, a.hill, a.scale, strict=True):
            x = f"({ecf[int(k)]} / {_num(K)})^{_num(n)}"
            parts.append(f"{_num(e)} * {x} / (1 + {x})")
        pot = " + ".join(parts) if parts else "0"
    g = glu if "disinhibition" in on else rest_glu
    u["ampa"] = b.assign("u_ampa", f"{g} * (1 + {pot}) * (1 - p_ampa_antagonist_block)")
    for name in cascade.INPUTS:
        if name in u:
            continue
        if name not in m.routes:
            u[name] = b.assign(f"u_{name}", "0")
            continue
        variable, aff = m.routes[name]
        c = conc.get(variable, {})
        rows = zip(aff.species, aff.affinity, aff.hill, strict=True)
        s = " + ".join(f"({c[int(k)]} / {_num(K)})^{_num(n)}" for k, K, n in rows) or "0"
        occ = f"({s}) / (1 + {s})"
        if name == "opioid":
            a = "p_mechanism_opioid_params_antagonist_occupancy"
            occ = f"({s}) / (1 + {s} + {a} / (1 - {a}))"
        u[name] = b.assign(f"u_{name}", occ)
    return u


def _cascade_parameters(b: _Builder, m: ArmModel, p: int) -> dict[str, str]:
    q = m.cascade_params_of(p)
    P = {k: b.parameter(f"p_{sid(k)}", v) for k, v in q.items() if np.isscalar(v) or np.ndim(v) == 0}
    phi, sigma = condition_factors(q, m.depressed)
    b.parameter("spine_formation_factor", phi)
    b.parameter("spine_elimination_factor", sigma)
    b.parameter("protein_ref", m.protein_ref[p])
    return P


def _cascade(b: _Builder, m: ArmModel, p: int, u: dict[str, str], P: dict[str, str]) -> None:
    q = m.cascade_params_of(p)
    y = {s: f"y_{s}" for s in cascade.STATES}
    p0 = q["eef2.baseline_phospho"]
    f = {
        "eef2k": f"{P['eef2k.rate']} * ({P['eef2k.expression']} * hill_rel({u['ca']}, {P['eef2k.ca_half']}, "
        f"{P['eef2k.ca_hill']}) / (1 + {P['eef2k.s6k_inhibition']} * pos({y['mtorc1']} - 1)) - {y['eef2k']})",
        "p_eef2": f"{P['eef2.dephospho_rate']} * ({_num(p0 / (1 - p0))} * {y['eef2k']} * (1 - {y['p_eef2']})"
        f" - {y['p_eef2']})",
        "bdnf": f"{P['bdnf.turnover']} * ({P['bdnf.expression']} * free_eef2^{P['bdnf.elongation_exponent']}"
        f" - {y['bdnf']})",
        "effector": f"{P['growth_factors.effector_rate']} * (gf_drive - {y['effector']})",
        "mtorc1": f"{P['mtorc1.rate']} * ((1 - {P['mtorc1.rapamycin_inhibition']}) * "
        f"hill_rel(mtor_upstream / piecewise({y['s6k_feedback']}, {y['s6k_feedback']} > 1e-9, 1e-9)^"
        f"{P['mtorc1.feedback_strength']}, "
        f"{P['mtorc1.half_activation']}, {P['mtorc1.hill']}) - {y['mtorc1']})",
        "s6k_feedback": f"{P['mtorc1.feedback_rate']} * ({y['mtorc1']} - {y['s6k_feedback']})",
        "gsk3": f"{P['gsk3.rate']} * ((1 - {P['gsk3.lithium_inhibition']}) * "
        f"(1 + {P['gsk3.akt_inhibition']}) / "
        f"(1 + {P['gsk3.akt_inhibition']} * {P['gsk3.akt_sensitive']} * {y['effector']}) - {y['gsk3']})",
        "nascent": f"{P['synaptic_protein.transport_rate']} * (pos({y['mtorc1']})^"
        f"{P['synaptic_protein.initiation_exponent']} * free_eef2^{P['synaptic_protein.elongation_exponent']}"
        f" - {y['nascent']})",
        "synaptic_protein": f"{P['synaptic_protein.synaptic_rate']} * ({y['nascent']} * (1 + "
        f"{P['mechanism.er_chaperone.params.gain']} * {y['chaperone']}) - {y['synaptic_protein']})",
        "surface_ampa": f"{P['ampa.rate']} * (pos(1 - {P['ampa.regulated_share']} + "
        f"{P['ampa.regulated_share']} * "
        f"{y['synaptic_protein']} * (1 + {P['ampa.trkb_gain']} * ({y['effector']} - 1))) - {y['gsk3']} * "
        f"{y['surface_ampa']})",
        "chaperone": f"{P['mechanism.er_chaperone.params.rate']} * ({u['chaperone']} - {y['chaperone']})",
        "spine_density": f"{P['turnover.elimination']} * spine_formation_factor + spine_extra - "
        f"{P['turnover.elimination']} * spine_elimination_factor * {y['persistent_spines']} - "
        f"spine_elimination_factor * {P['turnover.new_spine_loss']} * ({y['spine_density']} - "
        f"{y['persistent_spines']})",
        "persistent_spines": f"{P['turnover.elimination']} * spine_formation_factor - "
        f"{P['turnover.elimination']} * spine_elimination_factor * {y['persistent_spines']} + "
        f"{P['turnover.new_spine_consolidation']} * ({y['spine_density']} - {y['persistent_spines']})",
    }
    b.assign("free_eef2", f"pos((1 - {y['p_eef2']}) / {_num(1 - p0)})")
    a = P["bdnf.activity_share"]
    b.assign("ampa_activity", f"pos({u['ampa']})^{P['bdnf.release_exponent']}")
    b.assign(
        "bdnf_release",
        f"{y['bdnf']} * (1 - {a} + {a} * {P['bdnf.release_factor']} * ampa_activity) * "
        f"(1 + {P['mechanism.sigma1.params.gain']} * {u['sigma']})",
    )
    v = P["growth_factors.vegf_share"]
    b.assign(
        "gf_drive",
        f"(1 - {v}) * {P['growth_factors.trkb_expression']} * bdnf_release + {v} * ampa_activity + "
        f"{P['mechanism.opioid.params.gain']} * {u['opioid']}",
    )
    b.assign(
        "mtor_upstream",
        f"{y['effector']} + {P['mechanism.lysosomal_mtor.params.gain']} * {u['lyso']} + "
        f"{P['mechanism.nicotinic.params.gain']} * {u['nic']}",
    )
    b.assign(
        "spine_drive",
        f"{P['turnover.formation_gain']} * ramp({y['nascent']} * (1 + "
        f"{P['mechanism.er_chaperone.params.gain']} * {y['chaperone']}) - protein_ref, {_num(RAMP_WIDTH)})",
    )
    b.assign(
        "spine_extra",
        f"{P['turnover.elimination']} * spine_formation_factor * spine_drive / (1 + spine_drive / "
        f"{P['turnover.formation_max']})",
    )
    for i, s in enumerate(cascade.STATES):
        b.rate(y[s], m.y0[p, i], f[s])
    b.assign("synaptic_strength", f"{y['surface_ampa']} * {y['spine_density']}")


def export_sbml(model: ArmModel, patient: int = 0) -> str:
    """SBML Level 3 Version 2 text of ``model`` for one patient (time in hours)."""
    if not 0 <= patient < model.n_patients:
        raise KetasimError(
            f"patient {patient} is not in the model (0 to {model.n_patients - 1})", argument="patient"
        )
    b = _build(model, patient)
    text = b.to_string()
    errors = b.doc.checkInternalConsistency()
    if errors:
        raise RuntimeError(f"the SBML document is inconsistent: {b.doc.getErrorLog().toString()}")
    return text


def patient_values(model: ArmModel, patient: int) -> dict[str, float]:
    """Every constant and initial value of the document for ``patient``: set these on a document
    exported for another patient of the same model to simulate this one (the structure is the same)."""
    return _build(model, patient, dry=True).values


def _build(model: ArmModel, patient: int, dry: bool = False) -> _Builder:
    b = _Builder(f"ketasim_{model.scenario.name}_{model.arm.name}", dry)
    notes = (
        f"ketasim {__version__}; scenario {model.scenario.name}; arm {model.arm.name}; patient {patient}; "
        f"parameter hash {model.parameter_hash()}; time in hours, amounts in umol, concentrations in uM"
    )
    if not dry:
        b.model.setNotes(f'<body xmlns="http://www.w3.org/1999/xhtml"><p>{notes}</p></body>')
    b.function("pos", ["x"], "piecewise(x, x > 0, 0)")
    b.function("hill_rel", ["x", "K", "n"], "pos(x)^n * (1 + K^n) / (pos(x)^n + K^n)")
    b.function("ramp", ["x", "w"], "(pos(x)^2 - pos(x - w)^2) / (2 * w)")
    P = _cascade_parameters(b, model, patient)
    conc = _pk(b, model, patient) if model.pk is not None else {}
    avail = _block_and_conductance(b, model, conc)
    rates = _circuit(b, model, avail)
    u = _inputs(b, model, patient, conc, avail, rates)
    _cascade(b, model, patient, u, P)
    return b
