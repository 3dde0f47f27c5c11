"""The population engine against exact and reference solutions, the SBML export against libRoadRunner.

Reference chain: the full-system scipy solver (:mod:`ketasim.engine.full_reference`) at tight
tolerances is the yardstick; libRoadRunner on our SBML export must reproduce it, and then serves as
a fast tight-tolerance reference for the engine over 14 days.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketasim import sbml_roadrunner as srr
from ketasim.engine import cascade_solver
from ketasim.engine.full_reference import solve_reference
from ketasim.engine.linear import solve_linear
from ketasim.engine.modal import solve_modal
from ketasim.engine.schedule import Schedule
from ketasim.engine.staged import solve_arm
from ketasim.model_assembly import assemble, base_cascade
from ketasim.pk.covariates import Covariates
from ketasim.sbml_export import export_sbml, patient_values
from ketasim.scenario import load
from ketasim.signalling import cascade
from ketasim.targets.patient_block import blocked_total

ROOT = Path(__file__).resolve().parents[1]
INFUSION = ROOT / "examples" / "standard_infusion.toml"
HOURS = np.arange(0.0, 337.0, 1.0)
SELECTIONS = ["c_plasma_esketamine", "c_plasma_arketamine", "nmda_block_pyramidal", "y_surface_ampa",
              "y_spine_density"]  # fmt: skip


@pytest.fixture(scope="module")
def infusion_model():
    cov = Covariates.batch(np.array([52.0, 70.0, 104.0]), ["*1/*1", "*1/*6", "*6/*6"])
    return assemble(
        load(INFUSION), "ketamine", cov, patient_params={"bdnf.release_factor": np.array([1, 0.8, 0.6])}
    )


@pytest.fixture(scope="module")
def sbml(infusion_model):
    return export_sbml(infusion_model, 0)


# ------------------------------------------------------------------------------------------- PK
@pytest.mark.parametrize("path", ["standard_infusion.toml", "mk0657_oral.toml", "mouse_ketamine_10mgkg.toml"])
def test_modal_pk_equals_matrix_exponential(path):
    sc = load(ROOT / "examples" / path)
    cov = Covariates.batch(np.linspace(50, 110, 6), ["*1/*1"] * 6) if sc.species == "human" else None
    m = assemble(sc, sc.arms[0].name if sc.arms[0].regimen.doses else sc.arms[1].name, cov)
    t = np.unique(np.concatenate([np.linspace(0, 3, 91), np.arange(0, sc.horizon_h + 1, 1.0)]))
    rows = np.concatenate([m.conc_index["brain_ecf"], m.conc_index["lysosome"]])
    a = solve_modal(m.pk.A, m.schedule, t, rows)
    b = solve_linear(m.pk.A, m.schedule, t)[:, :, rows]
    scale = np.abs(b).max(axis=1, keepdims=True)
    assert np.max(np.abs(a - b) / scale) < 1e-9


def test_modal_pk_falls_back_for_a_defective_system():
    # two compartments in series with the same rate constant: a Jordan block, no eigenbasis
    A = np.array([[[-1.0, 0.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, 0.0]]])
    sch = Schedule(np.array([0.0]), np.array([[[5.0, 0.0, 0.0]]]), np.zeros((1, 1, 3)))
    t = np.linspace(0, 6, 13)
    x = solve_modal(A, sch, t, np.array([0, 1]))
    exact = np.stack([5 * np.exp(-t), 5 * t * np.exp(-t)], axis=-1)  # x2 = 5 t e^-t
    assert np.allclose(x[0], exact, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------------- block
@pytest.mark.parametrize("off", [[20.0, 20.0], [20.0, 180.0], [20.0, 180.0, 900.0]])
def test_block_kernel_matches_the_continuous_equations(off):
    off = np.array(off)
    on = np.array([9.0, 25.0, 40.0])[: off.size]
    t = np.linspace(0, 4, 241)  # 1-min grid
    conc = np.stack([np.interp(t, [0, 0.67, 4], [0, c, 0.1 * c]) for c in (0.8, 0.3, 0.5)[: off.size]], -1)
    total = blocked_total(conc[None], t, on, off)[0]

    def f(tt, b):
        c = np.array([np.interp(tt, t, conc[:, i]) for i in range(off.size)])
        return on * c * (1 - b.sum()) - off * b

    sol = solve_ivp(
        f, (0, 4), np.zeros(off.size), t_eval=t, method="Radau", rtol=1e-11, atol=1e-14, max_step=1 / 60
    )
    ref = sol.y.sum(0)
    # K = diag(off) + a 1^T is taken at each interval's mean: second order; at 40% block on a 1-min
    # grid that is ~5e-4 relative (the engine's ~10% block on its grid: 7e-5)
    assert np.max(np.abs(total - ref)) < 1e-3 * ref.max()
    assert abs(total.max() - ref.max()) < 1e-3 * ref.max()


# -------------------------------------------------------------------------------------- cascade
def test_cascade_solver_matches_bdf_at_tight_tolerance():
    p = dict(base_cascade())
    t = np.concatenate([np.linspace(0, 6, 73), np.arange(7.0, 97.0)])
    u = np.zeros((2, t.size, len(cascade.INPUTS)))
    pulse = np.exp(-((t - 1.0) ** 2) / 0.5)
    u[..., cascade.UX["ca"]] = 1.0 - 0.3 * pulse
    u[..., cascade.UX["ampa"]] = 1.0 + 0.4 * pulse * np.array([[1.0], [0.5]])
    y0 = cascade.steady_state(u[:, 0], p, True)
    ref = y0[:, cascade.IX["synaptic_protein"]]
    fast = cascade_solver.integrate(t, u, y0, p, True, ref, rtol=1e-8, atol=1e-11)
    slow = cascade.integrate(t, u, y0, p, True, rtol=1e-10, max_step=0.05, protein_ref=ref)
    assert np.max(np.abs(fast - slow) / np.maximum(np.abs(slow), 1e-3)) < 1e-5


def test_steady_state_is_at_rest():
    p = dict(base_cascade())
    u = np.array([[1.0, 1.0, 0, 0, 0, 0, 0], [0.8, 1.2, 0.1, 0, 0, 0, 0]])
    y = cascade.steady_state(u, p, True)
    assert np.abs(cascade.rhs(y, u, p, True, y[:, cascade.IX["synaptic_protein"]])).max() < 1e-9


# ------------------------------------------------------------------------------------ SBML round trip
def test_sbml_is_consistent(sbml):
    import libsbml

    doc = libsbml.readSBMLFromString(sbml)
    assert doc.getLevel() == 3 and doc.getVersion() == 2
    doc.checkConsistency()
    errors = [doc.getError(i) for i in range(doc.getNumErrors())]
    assert not [e.getMessage() for e in errors if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR]


def test_roadrunner_reproduces_the_reference_solver(infusion_model, sbml):
    t = np.concatenate([np.linspace(0, 2, 25), np.arange(3.0, 49.0, 3.0)])
    rr = srr.load(sbml, rtol=1e-10, atol=1e-14)
    sel = [
        "y_spine_density",
        "y_surface_ampa",
        "y_mtorc1",
        "y_p_eef2",
        "nmda_block_pyramidal",
        "rate_pyramidal",
    ]
    for p in (2,):  # patient 2 through patient 0's document and its own values
        got = srr.simulate(rr, patient_values(infusion_model, p), t, sel)
        # 1e-8 agrees with a 1e-10 solve to ~1e-9 here, far inside the 1e-4 test, at half the cost
        ref = solve_reference(infusion_model, t, [p], rtol=1e-8, atol=1e-11)
        ix = cascade.IX
        terms = infusion_model.block_terms
        block = sum(term.share * ref.block[0, :, j] for j, term in enumerate(terms) if term.cell == 0)
        y = ref.y[0]
        cols = [y[:, ix[n]] for n in ("spine_density", "surface_ampa", "mtorc1", "p_eef2")]
        want = np.stack([*cols, block, ref.rates[0, :, 0]], -1)
        scale = np.maximum(np.abs(want), 1e-6 * np.abs(want).max(axis=0))
        assert np.max(np.abs(got - want) / scale) < 1e-4


# ------------------------------------------------------------------------------------- the engine
def test_engine_key_outputs_within_1e3_of_tight_reference_for_every_patient(infusion_model, sbml):
    sol = solve_arm(infusion_model, HOURS)
    values = [patient_values(infusion_model, p) for p in range(infusion_model.n_patients)]
    ref = srr.simulate_population(sbml, values, HOURS, SELECTIONS, rtol=1e-10, atol=1e-14)
    ix = cascade.IX
    k = [i for i, sp in enumerate(infusion_model.species) if sp.id in ("esketamine", "arketamine")]
    plasma = sol.conc["plasma"][..., k].sum(-1)
    block = sum(t.share * sol.block[..., j] for j, t in enumerate(infusion_model.block_terms) if t.cell == 0)
    spines = sol.y[..., ix["spine_density"]]
    strength = sol.y[..., ix["surface_ampa"]] * spines
    r_strength = ref[..., 3] * ref[..., 4]
    pairs = [
        (plasma.max(1), (ref[..., 0] + ref[..., 1]).max(1)),
        (block.max(1), ref[..., 2].max(1)),
        (spines[:, 24], ref[:, 24, 4]),
        (spines[:, 168], ref[:, 168, 4]),
        (strength[:, 24], r_strength[:, 24]),
        (strength[:, 168], r_strength[:, 168]),
    ]
    for mine, theirs in pairs:
        assert np.all(np.abs(mine - theirs) <= 1e-3 * np.abs(theirs))
    from ketasim.clinical import scores
    from ketasim.trial import clinical_params

    p = clinical_params()
    ones = np.ones(3)
    d_mine = scores.drug_effect(HOURS, strength, strength[:, 0], ones, p)
    d_ref = scores.drug_effect(HOURS, r_strength, r_strength[:, 0], ones, p)
    for h in (24, 168):  # MADRS = baseline (1 - drug effect) without placebo and noise
        assert np.all(np.abs(d_mine[:, h] - d_ref[:, h]) <= 1e-3 * (1 - d_ref[:, h]))


def test_a_patient_does_not_depend_on_the_rest_of_the_batch(infusion_model):
    sc = load(INFUSION)
    together = solve_arm(infusion_model, HOURS)
    cov = Covariates.batch(np.array([104.0]), ["*6/*6"])
    alone = solve_arm(
        assemble(sc, "ketamine", cov, patient_params={"bdnf.release_factor": np.array([0.6])}), HOURS
    )
    assert np.array_equal(together.y[2], alone.y[0])
    assert np.array_equal(together.block[2], alone.block[0])
    assert np.array_equal(together.conc["plasma"][2], alone.conc["plasma"][0])


# ----------------------------------------------------------------------------------- benchmark, CLI
def test_benchmark_small_mode():
    spec = importlib.util.spec_from_file_location(
        "population_benchmark", ROOT / "benchmarks" / "population.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["population_benchmark"] = mod
    spec.loader.exec_module(mod)
    small = ["--n", "8", "--workers", "1", "--scipy-sample", "1", "--accuracy-sample", "4", "--days", "2"]
    out = mod.main([*small, "--json"])
    for key in (
        "n",
        "ketasim_s",
        "roadrunner_s",
        "scipy_s",
        "ratio_vs_roadrunner",
        "ratio_vs_scipy",
        "max_rel_err",
    ):
        assert key in out
    assert out["n"] == 8 and out["ketasim_s"] > 0 and out["roadrunner_s"] > 0 and out["scipy_s"] > 0
    assert out["max_rel_err"] <= 1e-3


def test_export_sbml_cli(tmp_path, capsys):
    from ketasim.cli import main

    out = tmp_path / "model.xml"
    assert main(["export-sbml", str(INFUSION), "--arm", "ketamine", "--out", str(out)]) == 0
    assert out.read_text().startswith("<?xml") and "y_spine_density" in out.read_text()
    capsys.readouterr()
    assert main(["export-sbml", str(INFUSION), "--arm", "ketamin"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ketamine" in err[0]
    assert main(["export-sbml", str(INFUSION), "--out", str(tmp_path / "no" / "dir" / "m.xml")]) == 2


def test_per_patient_baseline_phosphorylation_is_reported_relative_to_each_patient():
    from ketasim.model import run_arm

    cov = Covariates.batch(np.array([60.0, 80.0]), ["*1/*1"] * 2)
    p0 = {"eef2.baseline_phospho": np.array([0.3, 0.4])}
    ds = run_arm(load(INFUSION), "ketamine", cov, times=np.arange(0.0, 25.0), patient_params=p0)
    assert np.allclose(ds.p_eef2_relative.values[:, 0], 1.0, rtol=1e-9)
    assert ds.p_eef2_relative.values.min() < 0.999  # ketamine lowers p-eEF2 in both
