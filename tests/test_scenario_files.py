"""Scenario files: their own compound files, output times, and errors that give the line."""

import shutil
from pathlib import Path

import pytest

from ketasim import scenario as scenario_io
from ketasim.errors import KetasimError
from ketasim.trial import report_hours, run_trial

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_a_scenario_brings_its_own_compounds_relative_to_its_file(tmp_path):
    shutil.copytree(EXAMPLES / "designs", tmp_path / "designs")
    shutil.copy(EXAMPLES / "designed_oral_compound.toml", tmp_path / "s.toml")
    sc = scenario_io.load(tmp_path / "s.toml")
    assert sc.compounds == (str((tmp_path / "designs").resolve()),)
    assert "designed" in sc.library().names() and "designed" not in scenario_io.default_library().names()
    again = scenario_io.loads(scenario_io.to_toml(sc), "again.toml")  # absolute paths survive a round trip
    assert again.record() == sc.record()
    res = run_trial(sc, n=4, seed=1)
    assert set(res.arms) == {"designed", "ketamine", "saline"}
    assert res.arms["designed"].plasma_parent_um.max() > 0  # the designed compound was dosed


def test_missing_compound_directory_is_named_with_its_line(tmp_path):
    text = (EXAMPLES / "designed_oral_compound.toml").read_text()
    (tmp_path / "s.toml").write_text(text.replace('compounds = ["designs"]', 'compounds = ["nowhere"]'))
    with pytest.raises(KetasimError, match=r"compounds\[0\] \(line \d+\): no compound file or directory"):
        scenario_io.load(tmp_path / "s.toml")


def test_a_scenario_selects_contested_affinities_by_name(tmp_path):
    """``affinity_hypotheses`` replaces the default records in the scenario's library (and only there),
    is part of the scenario's record and hash, survives a round trip, and an unknown name gives the line."""
    text = (EXAMPLES / "standard_infusion.toml").read_text()
    (tmp_path / "s.toml").write_text('affinity_hypotheses = ["d2high_seeman2005"]\n' + text)
    sc = scenario_io.load(tmp_path / "s.toml")
    plain = scenario_io.load(EXAMPLES / "standard_infusion.toml")
    assert sc.library().get("esketamine", "c").targets["d2_high"].affinity == pytest.approx(0.055)
    assert plain.library().get("esketamine", "c").targets["d2_high"].bound == "lower"
    assert sc.digest() != plain.digest()
    assert scenario_io.loads(scenario_io.to_toml(sc), "again.toml").record() == sc.record()
    (tmp_path / "bad.toml").write_text('affinity_hypotheses = ["d2high_seeman"]\n' + text)
    message = r"affinity_hypotheses \(line 1\).*did you mean 'd2high_seeman2005'"
    with pytest.raises(KetasimError, match=message):
        scenario_io.load(tmp_path / "bad.toml")


def test_output_times_set_the_trial_endpoints(tmp_path):
    sc = scenario_io.loads(
        '[[arms]]\nname = "a"\ndoses = []\n[outputs]\nhours = ["30 min", "1 d", "2 d"]\n',
        "o.toml",
    )
    assert report_hours(sc) == (0.5, 24.0, 48.0)
    with pytest.raises(KetasimError, match=r"outputs.hours\[0\] \(line 5\)"):
        scenario_io.loads('[[arms]]\nname = "a"\ndoses = []\n[outputs]\nhours = ["9 d"]\n', "o.toml")
    with pytest.raises(KetasimError, match="unknown key 'times'"):
        scenario_io.loads('[[arms]]\nname = "a"\n[outputs]\ntimes = ["1 d"]\n', "o.toml")


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ('compound = "ketamine"', 'compound = "ketamin"', 15, "arms[0].doses[0].compound"),
        ('amount = "0.5 mg/kg"', 'amount = "0.5 parsec"', 15, "arms[0].doses[0]"),
        ('horizon = "14 d"', 'horizon = "-1 d"', 6, "horizon"),
        ("seed = 1", "seed = -1", 11, "population.seed"),
        ("hnk_ampa = true", "hnk_amp = true", 28, "mechanisms"),
        ('compound = "midazolam"', 'compound = "midazolan"', 23, "arms[2].doses[0].compound"),
    ],
)
def test_errors_in_the_standard_example_give_the_line(tmp_path, old, new, line, field):
    text = (EXAMPLES / "standard_infusion.toml").read_text()
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new))
    with pytest.raises(KetasimError) as info:
        scenario_io.load(bad)
    assert f"{field}" in str(info.value) and f"(line {line})" in str(info.value)
    assert new.split(" = ")[0] in bad.read_text().splitlines()[line - 1] or field == "mechanisms"
