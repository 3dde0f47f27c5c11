"""The model against published pharmacokinetics (data/validation/pk.toml).

Checks expected to pass must pass. Checks recorded as known failures must still fail: if one
starts to pass, this test fails so that the record (and the closing note) is updated, never the
expected value.
"""

import pytest

from ketasim.pk.validation import load_checks, run_check

CHECKS = load_checks()


@pytest.mark.parametrize("check", CHECKS, ids=[c["id"] for c in CHECKS])
def test_pk_check(check, library):
    result = run_check(check, library)
    if check.get("known_failure"):
        assert not result.passed, f"{check['id']} now passes ({result.measured}); remove known_failure"
    else:
        assert result.passed, (
            f"{check['id']}: measured {result.measured}, expected {result.expected} ({check['tolerance']})"
        )


def test_catalogue_is_well_formed():
    ids = [c["id"] for c in CHECKS]
    assert len(ids) == len(set(ids))
    for c in CHECKS:
        assert c["role"] in ("validation", "consistency")
        assert c["source"].strip() and c["claim"].strip()
    must_show = {
        "pk-standard-infusion-end-level",
        "pk-hasan-s-half-life",
        "pk-hasan-r-half-life",
        "pk-hasan-s-curve-early",
        "pk-kamp-s-ketamine-peak",
        "pk-kamp-r-ketamine-peak",
        "pk-kamp-s-norketamine-peak",
        "pk-norketamine-exceeds-ketamine",
        "pk-hnk-peaks-after-norketamine",
        "pk-hasan-s-hnk-auc-ratio",
    }
    assert must_show <= set(ids)


def test_validation_document_is_current(library):
    from pathlib import Path

    from ketasim.pk.validation import run_checks, to_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "validation" / "pk.md"
    assert doc.read_text() == to_markdown(run_checks(library)), "regenerate: python -m ketasim.pk.validation"


def test_subject_ratio_is_the_ratio_of_two_runs(library):
    """A check with ``relative_to`` reports readout(subject) / readout(relative_to), each simulated in its
    own subject; a bad subject field is named."""
    from ketasim.errors import KetasimError
    from ketasim.pk.validation import measure

    base = {
        "id": "t",
        "regimen": [{"compound": "ketamine", "amount": "0.4 mg/kg", "route": "oral"}],
        "horizon": "72 h",
        "readout": {"kind": "auc", "analyte": "ketamine"},
    }
    poor = measure({**base, "subject": {"cyp2b6": "*6/*6"}}, library)
    normal = measure({**base, "subject": {"weight": "70 kg"}}, library)
    assert poor > normal * 1.05  # less CYP2B6 activity, more parent exposure
    ratio = measure({**base, "subject": {"cyp2b6": "*6/*6"}, "relative_to": {"cyp2b6": "*1/*1"}}, library)
    assert ratio == pytest.approx(poor / normal, rel=1e-12)
    with pytest.raises(KetasimError, match="subject"):
        measure({**base, "subject": {"genotype": "*6/*6"}}, library)
    with pytest.raises(KetasimError, match="relative_to needs"):
        measure({**base, "readout": {"kind": "peak", "analyte": "ketamine"}, "relative_to": {}}, library)
