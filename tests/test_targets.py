"""Targets other than NMDA block kinetics: occupancy maths, target data, loader checks, potency strip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ketasim.compounds import (
    AFFINITY_BOUNDS,
    AFFINITY_KINDS,
    Species,
    affinity_hypotheses,
    parse_affinity_hypotheses,
    parse_compound,
    target_names,
    with_affinity_hypotheses,
)
from ketasim.dosing import Dose, Regimen
from ketasim.errors import KetasimError
from ketasim.pk.simulate import simulate
from ketasim.provenance import Status
from ketasim.report.potency import plot_potency_strip
from ketasim.targets.occupancy import (
    combined_occupancy,
    competitive_occupancy,
    occupancy,
    peak_occupancy_table,
    potency_strip,
    target_occupancy,
)

from .conftest import species_toml

# A target counts as "substantially occupied" from 15% on. Below that a one-site target sees less than
# Ki/5.7; the recorded affinities themselves differ 2-10x between laboratories (racemic ketamine at the
# PCP site: 0.12-3.1 uM), so occupancies under ~15% are not distinguishable from none with these data,
# and they are far from the ~80% transporter occupancy that SSRIs need for an antidepressant effect
# (Meyer et al. 2001, 2004, as cited in Neuropsychopharmacology 2013, doi:10.1038/npp.2013.176).
OFF_TARGET_MAX = 0.15
NMDA_MIN = 0.20

# Off-targets whose default affinities still break "only NMDA is substantially occupied" at the standard
# dose. Each is a known failure of the claim, kept visible (see the strict xfail test below). The contested
# D2High (Seeman 2005) and sub-micromolar BK values are no longer defaults but named alternative hypotheses
# (data/targets.toml, docs/decisions/0013-contested-affinities.md); test_contested_hypotheses_break_the_claim
# shows what they would do.
KNOWN_EXCEPTIONS = {
    "alpha7_nachr": "dehydronorketamine IC50 55 nM (Moaddel 2013, single study, not contradicted) with "
    "simulated DHNK brain levels that rest on assumed DHNK disposition (DHNK was below detection in mouse "
    "brain, Can 2016)",
}


# ---------------------------------------------------------------- occupancy maths


def test_half_occupancy_at_the_affinity_constant():
    assert occupancy(3.0, 3.0) == pytest.approx(0.5)
    assert occupancy(0.42, 0.42, hill=2.7) == pytest.approx(0.5)
    np.testing.assert_allclose(occupancy([0.0, 1.0, 9.0], 1.0), [0.0, 0.5, 0.9])


def test_hill_slope_steepens_the_curve():
    k = 2.0
    c = np.array([k / 3, k * 3])
    n1, n2 = occupancy(c, k, 1.0), occupancy(c, k, 2.0)
    assert n2[0] < n1[0] and n2[1] > n1[1]
    # slope of logit(occupancy) against ln C equals the Hill coefficient
    for n in (0.7, 1.0, 1.8):
        occ = occupancy(np.array([0.5, 5.0]), 1.3, n)
        logit = np.log(occ / (1 - occ))
        assert (logit[1] - logit[0]) / np.log(10.0) == pytest.approx(n)


def test_occupancy_nan_affinity_and_bad_input():
    assert np.isnan(occupancy(1.0, np.nan))
    assert occupancy(np.inf, 1.0) == 1.0
    with pytest.raises(KetasimError, match="conc_um"):
        occupancy(-1.0, 1.0)
    with pytest.raises(KetasimError, match="affinity_um"):
        occupancy(1.0, 0.0)
    with pytest.raises(KetasimError, match="hill"):
        occupancy(1.0, 1.0, hill=0.0)
    with pytest.raises(KetasimError, match="conc_um"):
        occupancy("a lot", 1.0)


def test_competitive_combination_reduces_to_single_ligand():
    c = np.array([0.0, 0.1, 1.0, 10.0])
    single = occupancy(c, 0.7)
    # the same ligand alone, or with a second ligand at zero concentration, or without affinity
    np.testing.assert_allclose(competitive_occupancy(c[:, None], np.array([0.7])), single)
    both = np.stack([c, np.zeros_like(c)], axis=-1)
    np.testing.assert_allclose(competitive_occupancy(both, np.array([0.7, 0.05])), single)
    np.testing.assert_allclose(competitive_occupancy(np.stack([c, c], -1), np.array([0.7, np.nan])), single)
    # two ligands at half their Ki each occupy as much as one at its Ki
    assert competitive_occupancy([1.0, 2.0], [2.0, 4.0]) == pytest.approx(0.5)
    # splitting one ligand into two identical halves changes nothing
    np.testing.assert_allclose(
        competitive_occupancy(np.stack([c / 2, c / 2], -1), np.array([0.7, 0.7])), single
    )
    assert np.isnan(competitive_occupancy([1.0, 1.0], [np.nan, np.nan]))


# ---------------------------------------------------------------- data


def test_targets_file_lists_the_required_targets():
    names = target_names()
    for t in [
        "nmda_pcp_site",
        "sigma1",
        "mu_opioid",
        "kappa_opioid",
        "delta_opioid",
        "net",
        "dat",
        "sert",
        "alpha7_nachr",
        "alpha3beta4_nachr",
        "alpha4beta2_nachr",
        "hcn1",
        "d2",
        "d2_high",
        "5ht2",
        "ampa_potentiation",
    ]:
        assert t in names, t
    for name, t in names.items():
        assert name.replace("_", "").isalnum() and name == name.lower(), name
        assert t["label"] and t["description"] and t["tissue"] in ("brain", "lysosome"), name
        assert t["readout"] in ("occupancy", "inhibition", "potentiation"), name
        assert t.get("family"), name


def test_every_target_affinity_has_source_and_status(library):
    n = 0
    for c in library.compounds.values():
        if not isinstance(c, Species):
            continue
        for name, t in c.targets.items():
            n += 1
            assert name in target_names()
            _check_record(t, f"{c.id}.targets.{name}")
    assert n >= 50
    # the alternative hypotheses obey the same rules, name species of the library and a known target
    for hyp in affinity_hypotheses().values():
        assert hyp.target in target_names() and hyp.evidence_for and hyp.evidence_against
        for sid, t in hyp.records.items():
            assert isinstance(library.get(sid), Species), sid
            assert t.target == hyp.target and t.hypothesis == hyp.name
            _check_record(t, f"hypothesis.{hyp.name}.{sid}")


def _check_record(t, where: str) -> None:
    assert t.kind in AFFINITY_KINDS and t.action.strip(), where
    assert t.bound is None or t.bound in AFFINITY_BOUNDS, where
    for key, p in t.params.items():
        w = f"{where}.{key}"
        assert p.source.strip(), w
        assert isinstance(p.status, Status), w
        assert (np.isfinite(p.value) and p.value > 0) or key == "emax", w
        if p.status is Status.ASSUMED or t.bound is not None:
            assert p.note, f"{w}: an assumed value or a bound needs a note saying why"


def test_mixtures_have_no_targets_and_racemate_values_are_derived(library):
    for cid in ("ketamine", "norketamine", "dehydronorketamine"):
        assert not hasattr(library.get(cid), "targets")
    esk, ark = library.get("esketamine"), library.get("arketamine")
    # S is 2-3x more potent than R at mu and kappa (Hirota 1999);
    # of the transporters only DAT is stereoselective (Nishimura & Sato 1999)
    for t in ("mu_opioid", "kappa_opioid"):
        assert 2.0 <= ark.targets[t].affinity / esk.targets[t].affinity <= 3.0
        assert esk.targets[t].params["affinity"].status is Status.DERIVED
    assert ark.targets["dat"].affinity / esk.targets["dat"].affinity == pytest.approx(390 / 46.9)
    assert esk.targets["net"].affinity == ark.targets["net"].affinity


def test_hnk_ampa_potentiation_is_an_assumed_hypothesis(library):
    t = library.get("2r6r-hydroxynorketamine").targets["ampa_potentiation"]
    assert t.kind == "ec50"
    for key in ("affinity", "emax"):
        p = t.params[key]
        assert p.status is Status.ASSUMED
    note = t.params["affinity"].note
    for cite in ("Zanos P et al. 2016, Nature 533:481", "Shaffer", "Suzuki K et al. 2017, Nature 546:E1"):
        assert cite in note


# ---------------------------------------------------------------- loader


def _with_targets(extra: str) -> dict:
    import tomllib

    return tomllib.loads(species_toml("testdrug", extra=extra))


def test_loader_rejects_unknown_target_with_suggestion():
    raw = _with_targets(
        '[targets.mu_opiod]\nkind = "ki"\naction = "antagonist"\n'
        'affinity = { value = 42, unit = "uM", source = "s", status = "measured" }\n'
    )
    with pytest.raises(KetasimError, match=r"unknown target 'mu_opiod'.*did you mean 'mu_opioid'"):
        parse_compound(raw, "testdrug.toml")


def test_loader_rejects_bad_kind_and_bad_affinity():
    raw = _with_targets(
        '[targets.mu_opioid]\nkind = "pki"\naction = "antagonist"\n'
        'affinity = { value = 42, unit = "uM", source = "s", status = "measured" }\n'
    )
    with pytest.raises(KetasimError, match=r"targets\.mu_opioid\.kind.*'pki'"):
        parse_compound(raw, "testdrug.toml")
    raw = _with_targets(
        '[targets.mu_opioid]\nkind = "ki"\naction = "antagonist"\n'
        'affinity = { value = 42, unit = "mg", source = "s", status = "measured" }\n'
    )
    with pytest.raises(KetasimError, match=r"targets\.mu_opioid\.affinity"):
        parse_compound(raw, "testdrug.toml")


def test_loader_accepts_a_target_and_converts_units():
    raw = _with_targets(
        '[targets.mu_opioid]\nkind = "ki"\naction = "antagonist"\n'
        'affinity = { value = 420, unit = "nM", source = "s", status = "measured" }\n'
        'hill = { value = 1.2, unit = "", source = "s", status = "measured" }\n'
    )
    sp = parse_compound(raw, "testdrug.toml")
    assert sp.targets["mu_opioid"].affinity == pytest.approx(0.42)
    assert sp.targets["mu_opioid"].hill == pytest.approx(1.2)


# ---------------------------------------------------------------- the standard antidepressant dose


@pytest.fixture(scope="module")
def standard_dose():
    """Racemic ketamine 0.5 mg/kg IV over 40 min in a 70 kg adult, 48 h."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate(Regimen.single(Dose.parse("ketamine", "0.5 mg/kg", "iv", duration="40 min")))


def test_occupancy_arrays_have_the_documented_shape(standard_dose, library):
    occ = target_occupancy(standard_dose, library)
    assert occ.dims == ("patient", "time", "analyte", "target")
    # group sums (ketamine = S + R) are never given an affinity, so they cannot be counted twice
    assert bool(occ.sel(analyte="ketamine").isnull().all())
    assert bool(occ.sel(analyte="S-ketamine", target="d2").isnull().all())
    comb = combined_occupancy(standard_dose, library)
    assert comb.dims == ("patient", "time", "target")
    s = occ.sel(analyte="S-ketamine", target="mu_opioid")
    r = occ.sel(analyte="R-ketamine", target="mu_opioid")
    both = comb.sel(target="mu_opioid")
    assert bool((both >= np.maximum(s, r) - 1e-12).all()) and bool((both <= s + r + 1e-12).all())
    with pytest.raises(KetasimError, match="variable"):
        combined_occupancy(standard_dose, library, variable="nonsense")
    with pytest.raises(KetasimError, match="variable"):
        combined_occupancy(standard_dose, library, variable="plasma_ng_ml")


def _off_targets(table: dict[str, float]) -> dict[str, float]:
    names = target_names()
    return {t: v for t, v in table.items() if names[t].get("family") != "nmda"}


def test_standard_dose_nmda_is_the_main_target(standard_dose, library):
    """Must-show, as far as the recorded data allow: at the standard antidepressant dose (racemic
    ketamine 0.5 mg/kg IV over 40 min, 70 kg) the NMDA receptor PCP site is substantially occupied
    (peak > 20% from the unbound brain ECF concentrations of ketamine and its metabolites; about 47%)
    and every other target is below 15% and at most a third of the NMDA occupancy, EXCEPT the targets in
    KNOWN_EXCEPTIONS (alpha7 via dehydronorketamine). That exception is not hidden: the strict xfail test
    below states the full claim and fails because of it. D2High is held as a lower bound (Ki >= 10 uM), so
    its occupancy here is an upper bound.
    """
    table = peak_occupancy_table(standard_dose, library)
    nmda = table["nmda_pcp_site"]
    assert NMDA_MIN < nmda < 0.9
    off = _off_targets(table)
    assert len(off) >= 15
    for t, v in off.items():
        if t in KNOWN_EXCEPTIONS:
            continue
        assert v < OFF_TARGET_MAX, f"{t}: {v:.1%}"
        assert v < nmda / 3, f"{t}: {v:.1%} vs NMDA {nmda:.1%}"
    # the hypothesised AMPA potentiation by (2R,6R)-HNK formed from this dose stays near zero
    assert table["ampa_potentiation"] < 0.05


@pytest.mark.xfail(
    strict=True,
    reason="alpha7_nachr (DHNK IC50 55 nM, Moaddel 2013, with simulated DHNK brain levels) exceeds 15% at "
    "the standard dose with the default affinities",
)
def test_standard_dose_only_nmda_is_substantially_occupied(standard_dose, library):
    """The full must-show: with every default affinity, no off-target reaches 15% at the standard dose.
    Currently fails through alpha7 (~17% via dehydronorketamine; d2_high and bk_channel, ~88% and ~27%
    with the contested values, are now below 15% with the best-supported ones); if the data are
    corrected this test passes, and the strict xfail then fails so that the marker is removed.
    """
    off = _off_targets(peak_occupancy_table(standard_dose, library))
    assert max(off.values()) < OFF_TARGET_MAX, {t: round(v, 3) for t, v in off.items() if v >= OFF_TARGET_MAX}


def test_contested_hypotheses_break_the_claim(standard_dose, library):
    """The contested affinities are kept as alternatives, not deleted: selecting them reproduces the
    occupancies that used to break the claim (D2High ~88% with Ki 55 nM; BK ~27% with IC50 1.13 uM),
    while the default library is left untouched."""
    default = peak_occupancy_table(standard_dose, library)
    alt_lib = with_affinity_hypotheses(library, ["d2high_seeman2005", "bk_submicromolar"])
    alt = peak_occupancy_table(standard_dose, alt_lib)
    assert alt["d2_high"] > 0.8 and alt["bk_channel"] > OFF_TARGET_MAX
    assert default["d2_high"] < OFF_TARGET_MAX and default["bk_channel"] < OFF_TARGET_MAX
    # everything the hypotheses do not touch is identical
    for t in default.keys() - {"d2_high", "bk_channel"}:
        assert alt[t] == pytest.approx(default[t], rel=1e-12), t
    # the intermediate Seeman-laboratory value (0.5 uM) also exceeds 15%
    kapur = peak_occupancy_table(standard_dose, with_affinity_hypotheses(library, "d2high_kapur_seeman2002"))
    assert OFF_TARGET_MAX < kapur["d2_high"] < alt["d2_high"]
    assert library.get("esketamine").targets["d2_high"].affinity == pytest.approx(10.0)


# ---------------------------------------------------------------- human in-vivo check: D2 PET

# Aalto S et al. 2002, Psychopharmacology 164:401: a computer-driven infusion holding racemic ketamine at
# 293 +/- 29 ng/mL in plasma did not change striatal [11C]raclopride binding potential in healthy men.
AALTO_PLASMA_NG_ML = 293.0
# The smallest raclopride fall after ketamine that a study reported as significant: 11.2 +/- 8.9% (Breier A
# et al. 1998, Synapse 29:142; saline 1.9 +/- 3.7%). A null result at 293 ng/mL therefore means a fall of
# less than about 10% (assumed threshold).
RACLOPRIDE_DETECTABLE = 0.10


def _d2_high_occupancy_at_plasma(library, plasma_ng_ml: float) -> float:
    """Combined D2High occupancy at a steady racemic-ketamine plasma level, from the model's own
    plasma-to-brain-ECF relation (the PK is linear: checked at two infusion rates)."""
    ratios = []
    for dose in ("1 mg/kg", "2 mg/kg"):
        ds = simulate(Regimen.single(Dose.parse("ketamine", dose, "iv", duration="120 min")))
        plasma = ds.plasma_ng_ml.sel(patient=0, analyte="ketamine")
        i = int(np.argmax(plasma.values))
        ratios.append((ds, i, plasma_ng_ml / float(plasma[i])))
    (ds, i, factor), (ds2, i2, factor2) = ratios
    np.testing.assert_allclose(
        ds.brain_ecf.isel(time=i).values * factor, ds2.brain_ecf.isel(time=i2).values * factor2, rtol=1e-3
    )
    scaled = ds.isel(time=[i]).copy()
    scaled["brain_ecf"] = scaled["brain_ecf"] * factor
    return float(combined_occupancy(scaled, library).sel(patient=0, target="d2_high").max())


def test_d2_high_occupancy_agrees_with_human_raclopride_pet(library):
    """Catalogue-style check against human in-vivo data (Aalto 2002): at plasma ketamine 293 ng/mL the
    default data give at most ~7% D2High occupancy (an upper bound, from Ki >= 10 uM, and counting every
    D2 site as high-affinity), compatible with no detectable raclopride displacement. Under the Seeman 2005
    hypothesis (Ki 55 nM) more than 90% of D2High sites would be occupied, which the PET result allows
    only if fewer than ~11% of the raclopride-labelled sites were in the high-affinity state."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = _d2_high_occupancy_at_plasma(library, AALTO_PLASMA_NG_ML)
        seeman = _d2_high_occupancy_at_plasma(
            with_affinity_hypotheses(library, "d2high_seeman2005"), AALTO_PLASMA_NG_ML
        )
    assert 0.0 < default < RACLOPRIDE_DETECTABLE
    assert seeman > 0.9
    assert RACLOPRIDE_DETECTABLE / seeman < 0.12  # largest D2High fraction compatible with the null PET


# ---------------------------------------------------------------- alternative hypotheses: loader


def _hypotheses(extra: str) -> dict:
    import tomllib

    head = '[[target]]\nname = "d2_high"\n\n'
    return tomllib.loads(head + extra)


_RECORD = (
    '[[hypothesis.h1.record]]\nspecies = "esketamine"\nkind = "ki"\naction = "agonist"\n'
    'affinity = { value = 55, unit = "nM", source = "s", status = "measured" }\n'
)
_HEAD = '[hypothesis.h1]\nlabel = "L"\ntarget = "d2_high"\nevidence_for = "a"\nevidence_against = "b"\n'


def test_hypothesis_loader_accepts_and_rejects():
    hyp = parse_affinity_hypotheses(_hypotheses(_HEAD + _RECORD))["h1"]
    rec = hyp.records["esketamine"]
    assert rec.affinity == pytest.approx(0.055) and rec.hypothesis == "h1" and rec.bound is None
    assert set(hyp.params()) == {"hypothesis.h1.record[0].affinity"}
    with pytest.raises(KetasimError, match=r"unknown target 'd2_hi'.*did you mean 'd2_high'"):
        parse_affinity_hypotheses(_hypotheses(_HEAD.replace('"d2_high"', '"d2_hi"') + _RECORD))
    with pytest.raises(KetasimError, match=r"hypothesis\.h1\.record.*at least one"):
        parse_affinity_hypotheses(_hypotheses(_HEAD))
    with pytest.raises(KetasimError, match="evidence_against"):
        parse_affinity_hypotheses(_hypotheses(_HEAD.replace('evidence_against = "b"', "") + _RECORD))
    with pytest.raises(KetasimError, match="listed twice"):
        parse_affinity_hypotheses(_hypotheses(_HEAD + _RECORD + _RECORD))
    with pytest.raises(KetasimError, match="snake_case"):
        parse_affinity_hypotheses(_hypotheses((_HEAD + _RECORD).replace("h1", "H-1")))
    with pytest.raises(KetasimError, match=r"record\[0\]\.kind"):
        parse_affinity_hypotheses(_hypotheses(_HEAD + _RECORD.replace('"ki"', '"pki"')))


def test_loader_reads_and_checks_bounds():
    good = (
        '[targets.mu_opioid]\nkind = "ki"\naction = "none detected"\nbound = "lower"\n'
        'affinity = { value = 10, unit = "uM", source = "s", status = "measured", note = "n" }\n'
    )
    assert parse_compound(_with_targets(good), "testdrug.toml").targets["mu_opioid"].bound == "lower"
    with pytest.raises(KetasimError, match=r"targets\.mu_opioid\.bound.*'upper'"):
        parse_compound(_with_targets(good.replace('"lower"', '"upper"')), "testdrug.toml")


def test_selecting_hypotheses_checks_names(library):
    with pytest.raises(KetasimError, match=r"unknown affinity hypothesis.*did you mean 'd2high_seeman2005'"):
        with_affinity_hypotheses(library, ["d2high_seeman2006"])
    with pytest.raises(KetasimError, match="both set esketamine at d2_high"):
        with_affinity_hypotheses(library, ["d2high_seeman2005", "d2high_kapur_seeman2002"])
    lib = with_affinity_hypotheses(library, [])
    assert lib.get("esketamine").targets == library.get("esketamine").targets
    alt = with_affinity_hypotheses(library, ["bk_submicromolar"]).get("arketamine").targets["bk_channel"]
    assert alt.affinity == pytest.approx(1.13) and alt.hypothesis == "bk_submicromolar"
    assert library.get("arketamine").targets["bk_channel"].affinity == pytest.approx(20.0)


# ---------------------------------------------------------------- potency strip


def test_potency_strip_rows_are_sorted_and_sourced(library):
    rows = potency_strip("esketamine", library)
    assert [r.affinity_um for r in rows] == sorted(r.affinity_um for r in rows)
    assert all(r.source and r.status in {s.value for s in Status} for r in rows)
    assert rows[0].target == "nmda_pcp_site"
    assert {r.target: r.bound for r in rows}["d2_high"] == "lower"
    assert all(r.bound is None for r in rows if r.target != "d2_high")
    alt = potency_strip("esketamine", with_affinity_hypotheses(library, "d2high_seeman2005"))
    assert alt[0].target == "d2_high" and alt[0].bound is None
    assert potency_strip("traxoprodil", library) == []
    with pytest.raises(KetasimError, match=r"species.*mixture"):
        potency_strip("ketamine", library)


def test_potency_strip_png_is_written(tmp_path, standard_dose, library):
    peak = float(standard_dose.brain_ecf.sel(patient=0, analyte="S-ketamine").max())
    out = plot_potency_strip(
        "ketamine", tmp_path / "strip.png", library, {"peak brain ECF, S-ketamine, 0.5 mg/kg": peak}
    )
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    with pytest.raises(KetasimError, match="path"):
        plot_potency_strip("ketamine", tmp_path / "strip.pdf", library)
    with pytest.raises(KetasimError, match="marked_concentrations"):
        plot_potency_strip("ketamine", tmp_path / "s.png", library, {"bad": -1.0})
    with pytest.raises(KetasimError, match="compound_id"):
        plot_potency_strip("traxoprodil", tmp_path / "t.png", library)
