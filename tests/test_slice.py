"""The slice experiment (bath concentrations, no PK) and the partition readouts of the findings catalogue."""

import math

import pytest

from ketasim.circuit.slice import bath_block, slice_rates
from ketasim.compounds import default_library
from ketasim.errors import KetasimError
from ketasim.mechanism_findings import partition_property
from ketasim.targets.cell_types import cell_types
from ketasim.targets.nmda_kinetics import blocker_for
from ketasim.targets.nmda_reduced import steady_block


def test_drug_free_slice_fires_at_baseline():
    for v in slice_rates({}).values():
        assert v == pytest.approx(1.0, abs=1e-9)


def test_racemate_splits_into_its_enantiomers_by_mole_fraction():
    lib = default_library()
    cell = cell_types()["pyramidal"]
    s, r = lib.species("esketamine"), lib.species("arketamine")
    b = bath_block({"ketamine": 4.0}).sel(cell_type="pyramidal", subunit="GluN2B").item()
    direct = steady_block(
        [blocker_for(s, "GluN2B"), blocker_for(r, "GluN2B")],
        [2.0, 2.0],
        "GluN2B",
        cell.activity_hz,
        cell.potential_mv,
        cell.mg_mm,
    ).sum()
    assert b == pytest.approx(direct, rel=1e-12)


def test_more_drug_blocks_more_in_every_cell():
    lo, hi = bath_block({"memantine": 1.0}), bath_block({"memantine": 10.0})
    assert float((hi - lo).min()) >= 0.0
    assert float((hi - lo).max()) > 0.1


def test_negative_or_unknown_bath_is_an_error():
    with pytest.raises(KetasimError, match="negative"):
        slice_rates({"ketamine": -1.0})
    with pytest.raises(KetasimError):
        slice_rates({"ketamin": 1.0})


def test_partition_readouts_follow_henderson_hasselbalch():
    lib = default_library()
    sp = lib.species("esketamine")
    pka, logp = sp.properties["pka"].value, sp.properties["logp"].value
    assert partition_property("esketamine", "logd", 7.4) == pytest.approx(
        logp - math.log10(1 + 10 ** (pka - 7.4))
    )
    assert partition_property("ketamine-methiodide", "lysosome_cytosol") == 0.0
    with pytest.raises(KetasimError):
        partition_property("esketamine", "logp")
