"""NMDA EPSC of each cell type's subunit mix (ketasim.targets.cell_epsc) and the shares fitted to it."""

import pytest

from ketasim.errors import KetasimError
from ketasim.targets import cell_epsc, ephys
from ketasim.targets.cell_types import cell_types
from ketasim.targets.receptor_data import receptor_data


def test_single_subunit_decay_matches_the_pulse_protocol():
    """Independent path: ephys.pulse_response integrates the same pulse with its own grid and areas."""
    syn = receptor_data().synapse
    for sub in ("GluN2A", "GluN2B", "GluN2D"):
        ref = ephys.pulse_response(
            sub, pulse_ms=1000 * syn["pulse_duration"], glutamate_um=syn["glutamate_peak"], horizon_s=60.0
        )
        assert cell_epsc.weighted_decay_ms({sub: 1.0}) == pytest.approx(ref["deactivation_tau_ms"], rel=1e-6)
        assert cell_epsc.waveforms(sub).po.max() == pytest.approx(ref["peak_open_probability"], rel=1e-9)


def test_glun2b_modulator_spares_other_subunits_and_rises_with_the_glun2b_share():
    assert cell_epsc.nam_sensitive_fraction({"GluN2A": 0.7, "GluN2D": 0.3}) == pytest.approx(0.0, abs=1e-12)
    pure = cell_epsc.nam_sensitive_fraction({"GluN2B": 1.0})
    assert 0.8 < pure < 0.95  # the NAM lowers the opening rate by its efficacy (0.9), not the current
    fractions = [cell_epsc.nam_sensitive_fraction({"GluN2A": 1 - x, "GluN2B": x}) for x in (0.2, 0.5, 0.8)]
    assert fractions == sorted(fractions)


def test_charge_shares_sum_to_one_and_weight_slow_subunits():
    shares = cell_epsc.charge_shares({"GluN2A": 0.5, "GluN2B": 0.5})
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["GluN2B"] > 0.5  # GluN2B deactivates slowly and carries more charge per event


def test_pv_shares_reproduce_the_ifenprodil_sensitive_fraction():
    """Calibration: Mierau 2016 Table 2, PV interneurons at P45, ifenprodil removes 27% (0.63 -> 0.46)."""
    pv = cell_types()["pv"].subunits
    assert cell_epsc.nam_sensitive_fraction(pv) == pytest.approx(1 - 0.46 / 0.63, abs=0.005)


def test_stored_interneuron_shares_are_the_fitted_ones():
    fitted = cell_epsc.fitted_shares()
    cells = cell_types()
    for name, mix in fitted.items():
        assert set(mix) == set(cells[name].subunits)
        for sub, value in mix.items():
            assert cells[name].subunits[sub] == pytest.approx(value, abs=0.002), (name, sub)


def test_glun2d_shares_do_not_slow_the_epsc_beyond_the_bound():
    """Perszyk 2016: no faster NMDA EPSC decay in Grin2d-/- interneurons (bound: 20% slowing)."""
    for name in ("pv", "sst"):
        mix = cell_types()[name].subunits
        base = {s: f for s, f in mix.items() if s != "GluN2D"}
        slowing = cell_epsc.weighted_decay_ms(mix) / cell_epsc.weighted_decay_ms(base) - 1
        assert 0.15 < slowing < cell_epsc.GLUN2D_MAX_SLOWING + 0.01, name


def test_pyramidal_mix_agrees_with_the_pyramidal_ifenprodil_fraction():
    """Check, not a fit: Mierau 2016 pyramidal cells at P45, ifenprodil removes 11% (0.92 -> 0.82);
    visual cortex, so a lower bound for the GluN2B-richer prefrontal cortex (Wang 2008)."""
    measured = 1 - 0.82 / 0.92
    model = cell_epsc.nam_sensitive_fraction(cell_types()["pyramidal"].subunits)
    assert model == pytest.approx(measured, abs=0.05)


def test_bad_mixes_are_errors():
    with pytest.raises(KetasimError):
        cell_epsc.weighted_decay_ms({})
    with pytest.raises(KetasimError):
        cell_epsc.nam_sensitive_fraction({"GluN2A": -0.1, "GluN2B": 1.1})
    with pytest.raises(KetasimError):
        cell_epsc.fit_glun2b_share(0.95, {"GluN2A": 1.0})  # beyond what the modulator can remove
    with pytest.raises(KetasimError):
        cell_epsc.max_glun2d_share({"GluN2A": 1.0}, slowing=0.0)
