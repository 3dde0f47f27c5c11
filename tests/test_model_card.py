"""Model cards: ``ketasim card``, its JSON and Markdown forms, and completeness against the compound files."""

from __future__ import annotations

import json

import pytest

from ketasim.cli import main
from ketasim.compounds import Species, default_library
from ketasim.model_card import Card, card
from ketasim.model_card_render import to_json, to_markdown, to_text

STATUSES = {"measured", "derived", "fitted", "assumed"}


def run(capsys, *args):
    code = main(["card", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_ketamine_card_lists_pk_nmda_and_off_target_parameters_with_sources(capsys):
    code, out, err = run(capsys, "ketamine")
    assert code == 0 and not err
    assert "mixture of esketamine 0.5, arketamine 0.5" in out
    for section in ("Distribution", "Elimination by pathway", "Absorption by route", "Metabolites formed"):
        assert section in out
    for section in ("Brain and cell partition", "NMDA receptor block", "Other targets"):
        assert section in out
    lines = out.splitlines()

    def line(key: str, source: str) -> str:
        hits = [s for s in lines if s.strip().startswith(key + " ") and source in s]
        assert hits, f"{key} with source {source!r}"
        return hits[0]

    assert "fitted" in line("pk.v1", "Fanta S et al. 2015")
    assert "CYP2B6" in line("pk.elimination[1].cl", "Hijazi & Boulieu 2002")
    assert "Perez-Ruixo" in line("absorption.intranasal.f_nasal", "Perez-Ruixo")
    assert "uM" in line("nmda.kd", "Gilling")
    assert "[file: 0.88 1/s]" in line("nmda.koff", "Gilling")
    line("targets.nmda_pcp_site.affinity", "Ebert B et al. 1997")
    line("targets.mu_opioid.affinity", "Hirota K et al. 1999")
    line("targets.sigma1.affinity", "Literature spread")
    assert out.count("calibration: Fanta 2015") >= 5  # fitted values name their data


def test_json_round_trip(capsys):
    code, out, _ = run(capsys, "ketamine", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["ketasim_version"]
    rebuilt = Card.from_dict(doc)
    original = card("ketamine")
    assert rebuilt == original
    assert to_markdown(rebuilt) == to_markdown(original)
    assert [c["id"] for c in doc["component_cards"]] == ["esketamine", "arketamine"]
    rows = [r for c in doc["component_cards"] for s in c["sections"] for r in s["parameters"]]
    assert all(r["source"].strip() and r["status"] in STATUSES and "unit" in r for r in rows)
    assert all(r["calibration"] for r in rows if r["status"] == "fitted")
    metabolites = {m["id"]: m for m in doc["component_cards"][0]["metabolites"]}
    assert metabolites["s-norketamine"]["fraction_of_clearance"] == pytest.approx(76.2 / 95.3, rel=1e-3)


def test_markdown_output(capsys):
    code, out, _ = run(capsys, "s-ketamine", "--markdown")  # alias of esketamine
    assert code == 0
    assert out.startswith("# Esketamine (S-ketamine): model card\n")
    assert "| `nmda.kd_GluN2B`<br>Deep-site Kd at v_ref, GluN2B *(computed)* | 0.4042 | uM | fitted |" in out
    assert "[s-norketamine](s-norketamine.md)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ketamin"], "unknown compound 'ketamin' (did you mean 'ketamine'?)"),
        (["ketamine", "--json", "--markdown"], "not allowed with argument"),
        ([], "the following arguments are required: compound"),
    ],
)
def test_user_errors_are_one_line_with_status_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and not out
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_every_compound_has_a_complete_card():
    lib = default_library()
    for cid in lib.names():
        c = card(cid, lib)
        assert to_text(c) and to_markdown(c) and json.loads(to_json(c))["id"] == cid
        for part in [c, *c.parts]:
            compound = lib.compounds[part.id]
            shown = {f"{part.id}.{r.key}" for s in part.sections for r in s.rows if not r.computed}
            missing = set(compound.params()) - shown
            assert not missing, (cid, sorted(missing))
            for s in part.sections:
                for r in s.rows:
                    assert r.source.strip() and r.status in STATUSES, (cid, r.key)
                    assert r.status != "fitted" or r.calibration, (cid, r.key)
                    assert r.unit is not None and r.value == r.value, (cid, r.key)
            if isinstance(compound, Species):
                nmda = next(s for s in part.sections if s.title == "NMDA receptor block")
                assert nmda.rows or "does not act at NMDA receptors" in nmda.note


def test_computed_rows_take_the_weakest_status_of_their_inputs():
    mk801 = {r.key: r for r in card("mk-801").rows()}
    assert mk801["nmda.kd"].status == "derived"
    assert mk801["nmda.kd_GluN2B"].status == "assumed"  # no subunit factor: equality with GluN2A is assumed
    esk = {r.key: r for r in card("esketamine").rows()}
    assert esk["properties.logd_plasma"].status == "assumed"  # logP is assumed
    assert esk["nmda.kd_GluN2B"].status == "fitted" and "Kotermanski" in esk["nmda.kd_GluN2B"].calibration
    assert esk["pk.cl_total"].value == pytest.approx(95.3)
    assert esk["nmda.koff"].value == pytest.approx(0.88 * 3600) and esk["nmda.koff"].as_written == "0.88 1/s"


def test_permanent_cation_and_compounds_outside_the_package(synthetic):
    quat = card("ketamine-methiodide")
    rows = {r.key: r for r in quat.rows()}
    assert "properties.logd_plasma" not in rows and rows["partition.ecf_plasma"].value == 0.0
    assert "permanent cation" in quat.sections[0].note
    user = card("drugone", synthetic)
    assert user.file == "drugone.toml"  # not found on the search path: shown by name, values still listed
    assert {r.key for r in user.rows()} >= {"pk.v1", "pk.elimination[0].cl", "properties.fu"}
    assert all(r.as_written is None for r in user.rows())
