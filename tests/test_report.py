"""``ketasim report``: a self-contained HTML report (issue 7 must-show) whose tables match the engine."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from ketasim import __version__, scenario
from ketasim.cli import main
from ketasim.nca import nca
from ketasim.report.detail import simulate_detail
from ketasim.trial import run_trial

EXAMPLE = "examples/standard_infusion.toml"
N = 40


class _Page(HTMLParser):
    """Collects images, resource attributes and NCA cells of the report."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.resources: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.nca: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._row: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("img", "svg"):
            self.images.append(a.get("src", "inline svg"))
        for key in ("src", "href", "data"):
            if key in a and not (tag == "a" and key == "href" and a[key].startswith("#")):
                self.resources.append((tag, key, a[key]))
        if tag == "tr" and "data-analyte" in a:
            self._row = (a["data-arm"], a["data-analyte"])
            self.nca[self._row] = []
        if tag == "td" and self._row is not None and "data-median" in a:
            self.nca[self._row].append(a)

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["report", EXAMPLE, "--out", str(out), "--n", str(N)]) == 0
    page = (out / "index.html").read_text()
    parsed = _Page()
    parsed.feed(page)
    return out, page, parsed


def test_report_has_figures_and_opens_offline(report):
    out, page, parsed = report
    assert len(parsed.images) >= 8
    assert all(src.startswith("data:image/png;base64,") for src in parsed.images)
    # every resource is embedded: no src/href/data attribute, script or style sheet fetches anything
    assert all(v.startswith("data:") for tag, k, v in parsed.resources if tag != "a"), parsed.resources
    assert not [v for _, _, v in parsed.resources if re.match(r"\s*(https?:)?//", v)]
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"url\(\s*['\"]?https?:", page)
    for name in ("summary.json", "nca.csv", "provenance.json"):
        assert (out / name).exists()


def test_provenance_section_names_version_hashes_and_scenario(report):
    out, page, _ = report
    section = page[page.index("<section id='provenance'>") :]
    summary = json.loads((out / "summary.json").read_text())
    assert f"<td>{__version__}</td>" in section
    for h in summary["parameter_hash"].values():
        assert h in section
    assert summary["clinical_parameter_hash"] in section
    # the scenario file as written, and the sources of the parameters behind the run
    assert "Murrough JW et al. 2013" in section and "0.045 mg/kg" in section
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["n_per_arm"] == N and prov["seed"] == 1
    assert prov["mechanisms"] == ["disinhibition", "hnk_ampa", "resting_nmda"]
    assert {"pk", "cascade", "clinical", "population"} <= set(prov["parameters"])


def test_nca_table_equals_nca_of_the_same_patients(report):
    _, _, parsed = report
    sc = scenario.load(EXAMPLE)
    result = run_trial(sc, n=N)
    arm = sc.arm("ketamine")
    detail = simulate_detail(sc, arm, result.arms["ketamine"].frame)
    t = detail.pk.time.values
    # the detailed patients are the trial's: same parent-drug plasma curves
    parent = detail.pk.plasma.sel(analyte="ketamine").values
    np.testing.assert_allclose(parent, result.arms["ketamine"].plasma_parent_um, rtol=1e-6, atol=1e-9)
    for analyte in ("ketamine", "S-norketamine", "midazolam"):
        arm_name = "midazolam" if analyte == "midazolam" else "ketamine"
        if arm_name != "ketamine":
            detail = simulate_detail(sc, sc.arm(arm_name), result.arms[arm_name].frame)
        curves = np.clip(detail.pk.plasma_ng_ml.sel(analyte=analyte).values, 0, None)
        rows = [nca(t, c) for c in curves]
        expected = {
            "cmax": [r.cmax for r in rows],
            "tmax": [r.tmax for r in rows],
            "auc_inf": [r.auc_inf for r in rows if r.auc_inf is not None],
            "t_half": [r.t_half for r in rows if r.t_half is not None],
        }
        cells = parsed.nca[(arm_name, analyte)]
        assert len(cells) == 4
        for cell, values in zip(cells, expected.values(), strict=True):
            p5, med, p95 = np.percentile(values, [5, 50, 95])
            assert float(cell["data-median"]) == pytest.approx(med, rel=1e-5)
            assert float(cell["data-p5"]) == pytest.approx(p5, rel=1e-5)
            assert float(cell["data-p95"]) == pytest.approx(p95, rel=1e-5)
    # literature: 0.5 mg/kg over 40 min gives 185 ng/mL at the end of the infusion, range 100-250 (Zarate
    # CA et al. 2006 as tabulated in Zanos P et al. 2018, Pharmacol Rev 70:621, Table 1)
    med_cmax = float(parsed.nca[("ketamine", "ketamine")][0]["data-median"])
    assert 100 < med_cmax < 250


@pytest.mark.parametrize(
    ("args", "argument"),
    [(["--n", "0"], "--n"), (["--detail", "x"], "--detail"), (["--mechanisms", "nope"], "--mechanisms")],
)
def test_report_bad_arguments_are_one_line_errors(tmp_path, capsys, args, argument):
    assert main(["report", EXAMPLE, "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err
    assert argument in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "index.html").exists()
