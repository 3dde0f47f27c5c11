"""Every example scenario is also a test (as in PySB): it parses, round-trips through TOML, and a short
run of each arm gives finite results."""

from pathlib import Path

import numpy as np
import pytest

from ketasim import scenario as scenario_io
from ketasim.model import run_arm

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


def test_there_is_an_example_per_user_story():
    names = {p.stem for p in EXAMPLES}
    assert {"standard_infusion", "regimens_and_routes", "knockouts_mouse", "power_vs_midazolam"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_parses_round_trips_and_runs(path):
    sc = scenario_io.load(path)
    again = scenario_io.from_dict(__import__("tomllib").loads(scenario_io.to_toml(sc)), path.name)
    assert again.record() == sc.record()
    brief = {k: v for k, v in sc.record().items() if k != "outputs"}  # output times may lie beyond 6 h
    short = scenario_io.from_dict({**brief, "horizon": "6 h"}, path.name)
    for arm in short.arms:
        ds = run_arm(short, arm.name)
        assert np.isfinite(ds.spine_density.values).all()
        assert np.isfinite(ds.nmda_block.values).all()
