"""The mechanism and clinical findings catalogue (data/findings/*.toml), its report, the hypothesis matrix."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from ketasim import mechanism_findings as mf
from ketasim.cli import main
from ketasim.errors import KetasimError

ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def results():
    return mf.run_checks()


def test_catalogue_is_well_formed_and_covers_the_seeds():
    findings = mf.load_findings()
    assert len(findings) >= 25
    assert {f["seed"] for f in findings} == {
        p.name for p in (ROOT.parent / "shared" / "seeds").glob("*.txt")
    } or {f["seed"][:3] for f in findings} >= {"000", "001", "002", "003", "004"}
    assert any(f["role"] == "calibration" for f in findings) and any(
        f["role"] == "validation" for f in findings
    )


def test_failures_are_explained_and_explanations_are_not_stale():
    for r in results():
        if r.passed:
            assert not r.known_failure, f"{r.id} passes but still carries a known_failure note"
        else:
            assert r.known_failure, f"{r.id} fails without an explanation"


def test_calibration_findings_pass():
    assert all(r.passed for r in results() if r.role == "calibration")


def test_failing_findings_are_named_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for r in results():
        if not r.passed:
            assert r.id in readme, r.id


def test_report_is_current():
    doc = ROOT / "docs" / "validation" / "findings.md"
    assert doc.read_text() == mf.to_markdown(results()), "regenerate: python -m ketasim.mechanism_findings"


def test_validate_json_lists_every_catalogue(capsys):
    assert main(["validate", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ids = {f["id"] for f in doc["findings"]}
    assert doc["total"] == len(doc["findings"]) >= 25
    assert {r.id for r in results()} <= ids
    assert all({"id", "passed", "measured", "expected", "source"} <= set(f) for f in doc["findings"])


def test_hypothesis_matrix_separates_routes():
    m = mf.hypothesis_matrix(["mech-lysosomal-without-nmda", "mech-glutamate-up-subanaesthetic"])
    lyso = m["mech-lysosomal-without-nmda"]
    assert lyso["lysosomal_mtor"] and lyso["all"] and not lyso["resting_nmda"] and not lyso["disinhibition"]
    assert all(m["mech-glutamate-up-subanaesthetic"].values())  # the circuit does not depend on the switches
    with pytest.raises(KetasimError, match="unknown finding"):
        mf.hypothesis_matrix(["no-such-finding"])


def test_bad_finding_file_is_named(tmp_path):
    (tmp_path / "bad.toml").write_text('id = "x"\nclaim = "y"\n')
    with pytest.raises(KetasimError, match=r"bad\.toml: missing"):
        mf.load_findings(tmp_path)
