"""Issue 8 must-shows on the command line, reproducibility, provenance of results, and safety.

The pk must-shows (negative dose, "ketamin", "5 parsec": exit 2, one line, no traceback) are in
tests/test_cli.py (test_user_errors_exit_2_with_one_line, test_no_traceback_in_a_real_process); here:
malformed and misspelt scenarios, identical JSON from two trials with the same seed, ``ketasim
provenance`` on every kind of result, :func:`ketasim.provenance.git_revision`, and a scan of the
sources for pickle, eval and exec.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ketasim import __version__, provenance, scenario, trial
from ketasim.cli import main

ROOT = Path(__file__).parent.parent
STANDARD = ROOT / "examples" / "standard_infusion.toml"
MOUSE = ROOT / "examples" / "mouse_ketamine_10mgkg.toml"
HASH = re.compile(r"^[0-9a-f]{16}$")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trial_json():
    """Two runs, in separate processes, of
    ``ketasim trial examples/standard_infusion.toml --n 50 --seed 3 --json``."""
    outs = []
    for _ in range(2):
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "ketasim.cli",
                "trial",
                str(STANDARD),
                "--n",
                "50",
                "--seed",
                "3",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    return outs


def test_two_trials_with_the_same_seed_print_identical_json(trial_json):
    first, second = trial_json
    assert first == second
    doc = json.loads(first)
    assert doc["seed"] == 3 and doc["n_per_arm"] == 50


def test_trial_json_carries_version_revision_scenario_and_parameter_hashes(trial_json):
    doc = json.loads(trial_json[0])
    assert doc["ketasim_version"] == __version__
    assert doc["git_revision"] == provenance.git_revision()
    assert doc["scenario"] == scenario.load(STANDARD).name
    assert doc["scenario_hash"] == scenario.load(STANDARD).digest()
    assert set(doc["parameter_hash"]) == {"ketamine", "saline", "midazolam"}
    assert all(HASH.match(h) for h in [*doc["parameter_hash"].values(), doc["clinical_parameter_hash"]])


def test_run_trial_twice_gives_bit_identical_patients():
    sc = scenario.load(STANDARD)
    a, b = (trial.run_trial(sc, n=6, seed=11) for _ in range(2))
    for name in a.arms:
        for field in ("madrs", "cadss", "sbp_rise", "plasma_parent_um", "strength"):
            np.testing.assert_array_equal(getattr(a.arms[name], field), getattr(b.arms[name], field))
    assert json.dumps(a.summary()) == json.dumps(b.summary())
    # and another seed gives other patients
    c = trial.run_trial(sc, n=6, seed=12)
    assert not np.array_equal(a.arms["ketamine"].madrs, c.arms["ketamine"].madrs)


def test_a_malformed_scenario_exits_2_with_one_line_giving_the_line(capsys, tmp_path):
    bad = tmp_path / "malformed.toml"
    bad.write_text('name = "broken"\nhorizon = "7 d\n[[arms]]\nname = "a"\n')
    for command in ("trial", "simulate"):
        code, out, err = run(capsys, command, bad)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "malformed.toml: not valid TOML" in err and "line 2" in err


def test_a_misspelt_compound_in_a_scenario_is_suggested_in_a_real_process(tmp_path):
    bad = tmp_path / "ketamin.toml"
    bad.write_text(STANDARD.read_text().replace('compound = "ketamine"', 'compound = "ketamin"'))
    p = subprocess.run(
        [sys.executable, "-m", "ketasim.cli", "trial", str(bad), "--n", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1
    expected = "arms[0].doses[0].compound (line 15): unknown compound 'ketamin' (did you mean 'ketamine'?)"
    assert expected in p.stderr
    assert 'compound = "ketamin"' in bad.read_text().splitlines()[14]  # line 15 holds the misspelt name


# ----------------------------------------------------------------------------------- provenance
def test_provenance_of_a_saved_trial_json(capsys, tmp_path, trial_json):
    path = tmp_path / "trial.json"
    path.write_text(trial_json[0])
    code, out, _ = run(capsys, "provenance", path, "--json")
    assert code == 0
    p = json.loads(out)
    doc = json.loads(trial_json[0])
    assert p["ketasim_version"] == __version__ and p["git_revision"] == doc["git_revision"]
    assert p["scenario"] == {"name": doc["scenario"], "hash": doc["scenario_hash"]}
    assert p["seed"] == 3 and p["parameter_hash"] == doc["parameter_hash"]
    code, out, _ = run(capsys, "provenance", path)
    assert code == 0 and "seed         3\n" in out and doc["scenario_hash"] in out


def test_provenance_of_trial_out_directory_and_its_parquet(capsys, tmp_path):
    out_dir = tmp_path / "run"
    assert main(["trial", str(STANDARD), "--n", "4", "--seed", "5", "--out", str(out_dir), "--json"]) == 0
    capsys.readouterr()
    for target in (out_dir, out_dir / "ketamine.parquet"):
        code, out, _ = run(capsys, "provenance", target, "--json")
        p = json.loads(out)
        assert code == 0 and p["seed"] == 5 and p["scenario"]["hash"] == scenario.load(STANDARD).digest()


def test_provenance_of_simulate_outputs(capsys, tmp_path):
    sc = scenario.load(MOUSE)
    assert main(["simulate", str(MOUSE), "--out", str(tmp_path / "sim")]) == 0
    capsys.readouterr()
    assert main(["simulate", str(MOUSE), "--json"]) == 0
    doc = capsys.readouterr().out
    (tmp_path / "sim.json").write_text(doc)
    for target in (tmp_path / "sim", tmp_path / "sim.json"):
        code, out, _ = run(capsys, "provenance", target, "--json")
        p = json.loads(out)
        assert code == 0 and p["scenario"] == {"name": sc.name, "hash": sc.digest()} and p["seed"] is None
        assert p["git_revision"] == provenance.git_revision()
        assert HASH.match(p["parameter_hash"]["ketamine"])


def test_provenance_of_a_netcdf_result_dataset(capsys, tmp_path):
    from ketasim.model import run_arm

    sc = scenario.load(MOUSE)
    ds = run_arm(sc, "vehicle", times=np.array([0.0, 1.0]))
    ds.to_netcdf(tmp_path / "vehicle.nc", engine="scipy")
    code, out, _ = run(capsys, "provenance", tmp_path / "vehicle.nc", "--json")
    p = json.loads(out)
    assert (
        code == 0 and p["kind"] == "netcdf" and p["parameter_hash"] == {"vehicle": ds.attrs["parameter_hash"]}
    )
    assert p["scenario"] == {"name": sc.name, "hash": sc.digest()}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1}', "records no ketasim_version"),
        ("[1, 2]", "not an object"),
        ("hello", "not JSON"),
        (b"\xff\xfe\x00", "not text"),
    ],
)
def test_a_file_that_is_not_a_result_exits_2(capsys, tmp_path, content, message):
    path = tmp_path / "thing.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run(capsys, "provenance", path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "is not a ketasim result" in err and message in err


def test_an_empty_directory_or_missing_file_exits_2(capsys, tmp_path):
    for target, message in ((tmp_path, "without summary.json"), (tmp_path / "none.json", "no such file")):
        code, _, err = run(capsys, "provenance", target)
        assert code == 2 and message in err


def test_git_revision_is_the_short_hash_or_unknown(monkeypatch, tmp_path):
    rev = provenance.git_revision()
    assert re.match(r"^([0-9a-f]{7,40}(-dirty)?|unknown)$", rev)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0 and provenance.PACKAGE_DIR.is_relative_to(ROOT.resolve()):
        assert rev.split("-")[0] == head.stdout.strip()
    # outside a checkout, and without git at all: "unknown", never an exception
    provenance.git_revision.cache_clear()
    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)
    assert provenance.git_revision() == "unknown"
    provenance.git_revision.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path))
    assert provenance.git_revision() == "unknown"
    provenance.git_revision.cache_clear()


# ---------------------------------------------------------------------------------------- safety
UNSAFE = re.compile(
    r"\bpickle\.loads?\(|\bcloudpickle\.loads?\(|\bdill\.loads?\(|\bmarshal\.loads?\(|\bshelve\.open\("
    r"|(?<![\w.])eval\(|(?<![\w.])exec\(|\bcompile\([^)]*['\"]exec['\"]|yaml\.load\(|yaml\.unsafe_load\("
    r"|allow_pickle\s*=\s*True|\bpd\.read_pickle\(|\bjoblib\.load\("
)


def test_no_source_file_unpickles_evaluates_or_executes_input():
    """User files are data: no pickle/eval/exec anywhere in the package, TOML through tomllib only."""
    hits = []
    for path in sorted((ROOT / "src" / "ketasim").rglob("*.py")):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if UNSAFE.search(code):
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert hits == []
    toml_readers = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "src" / "ketasim").rglob("*.py")
        if re.search(r"\b(toml|tomli|rtoml|pytoml)\.loads?\(", p.read_text())
    }
    assert toml_readers == set(), toml_readers  # only the standard library's tomllib


def test_the_scan_would_catch_an_unsafe_line():
    for line in ("data = pickle.load(fh)", "x = eval(text)", "exec(code)", "np.load(p, allow_pickle=True)"):
        assert UNSAFE.search(line)
    for line in ("model.eval_outputs(x)", "self.execute(x)", "tomllib.load(fh)", "np.load(path)"):
        assert not UNSAFE.search(line)
