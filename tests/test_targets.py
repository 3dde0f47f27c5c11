"""Targets other than NMDA block kinetics: occupancy maths, target data, loader checks, potency strip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ketasim.compounds import AFFINITY_KINDS, Species, parse_compound, target_names
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

# Off-targets whose recorded affinities break "only NMDA is substantially occupied" at the standard
# dose. Each is a known failure of the claim, kept visible (see the strict xfail test below).
KNOWN_EXCEPTIONS = {
    "d2_high": "Seeman 2005 Ki 55 nM (one laboratory); not replicated (Jordan 2006, Can 2016), no raclopride "
    "displacement in humans (Aalto 2002)",
    "alpha7_nachr": "dehydronorketamine IC50 55 nM (Moaddel 2013, single study) with simulated DHNK brain "
    "levels that rest on assumed DHNK disposition",
    "bk_channel": "ketamine 0.77-1.66 uM from a secondary table with no identified primary source",
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
            assert t.kind in AFFINITY_KINDS
            assert t.action.strip(), f"{c.id}: {name}"
            for key, p in t.params.items():
                where = f"{c.id}.targets.{name}.{key}"
                assert p.source.strip(), where
                assert isinstance(p.status, Status), where
                assert (np.isfinite(p.value) and p.value > 0) or key == "emax", where
                if p.status is Status.ASSUMED:
                    assert p.note, f"{where}: an assumed value needs a note saying why"
    assert n >= 50


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
    and every other target is below 15% and at most a third of the NMDA occupancy, EXCEPT the three
    targets in KNOWN_EXCEPTIONS (contested D2High; alpha7 via dehydronorketamine; a BK channel value
    without a primary source). Those three are not hidden: the strict xfail test below states the full
    claim and fails because of them.
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
    reason="d2_high (Seeman 2005 Ki 55 nM, contested), alpha7_nachr (DHNK IC50 55 nM, Moaddel 2013) and "
    "bk_channel (secondary table) exceed 15% at the standard dose with the recorded affinities",
)
def test_standard_dose_only_nmda_is_substantially_occupied(standard_dose, library):
    """The full must-show: with every recorded affinity, no off-target reaches 15% at the standard dose.
    Currently fails (d2_high ~88%, alpha7 ~62%, bk_channel ~27%); if the data are corrected this test
    passes, and the strict xfail then fails so that the marker is removed.
    """
    off = _off_targets(peak_occupancy_table(standard_dose, library))
    assert max(off.values()) < OFF_TARGET_MAX, {t: round(v, 3) for t, v in off.items() if v >= OFF_TARGET_MAX}


# ---------------------------------------------------------------- potency strip


def test_potency_strip_rows_are_sorted_and_sourced(library):
    rows = potency_strip("esketamine", library)
    assert [r.affinity_um for r in rows] == sorted(r.affinity_um for r in rows)
    assert all(r.source and r.status in {s.value for s in Status} for r in rows)
    assert rows[0].target in ("d2_high", "nmda_pcp_site")
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
