"""Brain and cell: pH partition, lysosomal trapping, the cell-impermeant analogue."""

import numpy as np
import pytest

from ketasim.brain.cell import bath_uptake
from ketasim.brain.partition import log_d, neutral_fraction, trapping_ratio
from ketasim.dosing import Dose, Regimen
from ketasim.pk.simulate import simulate


def test_logd_of_ketamine_matches_seed_000(library):
    """Seed 000 (Lester, Lavis & Dougherty 2015) computes logD(7.4) = 1.85 from pKa and logP.

    Our logP (2.2) is itself an unconfirmed computed value, so this checks the relation and the
    data's consistency rather than an independent measurement.
    """
    sp = library.species("esketamine")
    value = log_d(sp.properties["logp"].value, sp.ionization, sp.properties["pka"].value, 7.4)
    assert value == pytest.approx(1.85, abs=0.2)


def test_logd_is_computed_for_any_compound(library):
    for sp in library.closure(library.names()):
        d = log_d(
            sp.properties["logp"].value,
            sp.ionization,
            sp.properties["pka"].value if "pka" in sp.properties else None,
            7.4,
        )
        if sp.ionization == "permanent_cation":
            assert d == -np.inf
        else:
            assert d <= sp.properties["logp"].value + 1e-12


def test_henderson_hasselbalch():
    assert neutral_fraction("base", 7.5, 7.5) == pytest.approx(0.5)
    assert neutral_fraction("acid", 4.0, 5.0) == pytest.approx(1 / 11)
    assert neutral_fraction("neutral", None, 3.0) == 1.0
    assert neutral_fraction("permanent_cation", None, 7.4) == 0.0


def test_lysosome_to_cytosol_ratio_analytic(library):
    sp = library.species("esketamine")
    r = trapping_ratio(sp.ionization, sp.properties["pka"].value, 5.0, 7.2)
    assert 50 <= r <= 140
    assert r == pytest.approx((1 + 10**2.5) / (1 + 10**0.3), rel=1e-12)


def test_lysosome_to_cytosol_ratio_at_steady_state_in_the_patient(library):
    """A 72 h constant infusion: the simulated lysosome/cytosol ratio reaches the pH-partition value."""
    reg = Regimen.single(Dose.parse("esketamine", "72 mg", "iv", duration="72 h"))
    ds = simulate(reg, times=np.array([71.0, 72.0]))
    lys = float(ds.lysosome.sel(patient=0, analyte="S-ketamine")[-1])
    cyt = float(ds.cytosol.sel(patient=0, analyte="S-ketamine")[-1])
    assert 50 <= lys / cyt <= 140
    assert lys / cyt == pytest.approx(trapping_ratio("base", 7.5, 5.0, 7.2), rel=1e-3)
    # unbound plasma -> ECF follows the plasma/ECF pH difference (7.4 vs 7.3)
    ecf = float(ds.brain_ecf.sel(patient=0, analyte="S-ketamine")[-1])
    cu = float(ds.unbound.sel(patient=0, analyte="S-ketamine")[-1])
    assert ecf / cu == pytest.approx(trapping_ratio("base", 7.5, 7.3, 7.4), rel=2e-3)


def test_charged_analogue_stays_outside_cells(library):
    inside = bath_uptake(library.species("ketamine-methiodide"), ecf_um=10.0, hours=24.0)
    assert inside["cytosol_um"] == 0.0 and inside["lysosome_um"] == 0.0
    ket = bath_uptake(library.species("esketamine"), ecf_um=10.0, hours=1.0)
    assert ket["cytosol_um"] > 5.0 and ket["lysosome_um"] > 100 * ket["cytosol_um"] * 0.9


def test_charged_analogue_after_iv_dose(library):
    ds = simulate(Regimen.single(Dose.parse("ketamine-methiodide", "20 mg", "iv")), horizon=12)
    plasma = ds.plasma.isel(analyte=0).max().item()
    assert plasma > 0.1
    assert ds.cytosol.max().item() == 0.0 and ds.lysosome.max().item() == 0.0
