"""Parameter files of the downstream scales, perturbations as data, and batched matrix exponentials."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from ketasim import perturbations
from ketasim.engine.batched_expm import expm
from ketasim.errors import KetasimError
from ketasim.model import base_cascade
from ketasim.parameter_sets import load_param_set, packaged
from ketasim.targets.cell_types import cell_types


def test_packaged_sets_convert_units_and_keep_sources():
    spines = packaged("spines")
    assert spines["turnover.elimination"] == pytest.approx(0.05 / 24)  # 1/d -> 1/h
    for name in ("circuit", "signalling", "spines", "clinical"):
        for key, p in packaged(name).params.items():
            assert p.source.strip() and p.status, key
            if p.status == "fitted":
                assert p.calibration, key


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('a = { value = 1, unit = "kg", source = "s", status = "assumed" }', "unit 'kg'"),
        ('a = { value = 1, unit = "1/h", source = "s", status = "fitted" }', "calibration"),
        ('a = { value = -1, unit = "1/h", source = "s", status = "assumed" }', "plausible range"),
        ('a = { value = 1, unit = "1/h", source = "", status = "assumed" }', "empty source"),
        ("a = 3", "neither a parameter"),
        ("a = [", "not valid TOML"),
    ],
)
def test_bad_parameter_files_name_the_field(tmp_path, body, message):
    f = tmp_path / "x.toml"
    f.write_text(body + "\n")
    with pytest.raises(KetasimError, match=message):
        load_param_set(f)


def test_replace_returns_a_new_set_and_names_unknown_keys():
    p = packaged("signalling")
    q = p.replace({"eef2k.expression": 0.0}, "knockout")
    assert p["eef2k.expression"] == 1.0 and q["eef2k.expression"] == 0.0
    assert p.digest() != q.digest()
    with pytest.raises(KetasimError, match="did you mean"):
        p["eef2k.expresion"]


def test_every_perturbation_names_existing_parameters():
    cas, circ, cells = base_cascade(), packaged("circuit"), cell_types()
    for name, pert in perturbations.catalogue().items():
        for key in pert.set:
            assert key in cas, (name, key)
        for key in pert.circuit:
            assert key in circ, (name, key)
        perturbations.apply([name], cas, circ, cells)  # expression keys expand to real receptors


def test_expression_wildcards_expand_and_multiply():
    cas, circ, cells = base_cascade(), packaged("circuit"), cell_types()
    _, _, expr = perturbations.apply(["ro_25_6981", "glun2b_interneuron_knockout"], cas, circ, cells)
    assert expr["pyramidal.GluN2B"] == pytest.approx(0.1)
    assert expr["pv.GluN2B"] == 0.0 and "pv.GluN2A" not in expr
    _, _, none = perturbations.apply(["no_nmda_receptors"], cas, circ, cells)
    assert len(none) == sum(len(c.subunits) for c in cells.values()) and not any(none.values())
    assert perturbations.chronic(["rapamycin", "eef2k_knockout"]) == ["eef2k_knockout"]
    with pytest.raises(KetasimError, match="did you mean 'nbqx'"):
        perturbations.apply(["nbqxx"], cas, circ, cells)


@pytest.mark.parametrize("scale", [1e-5, 1e-2, 0.5, 2.0, 40.0, 3000.0])
def test_batched_expm_matches_scipy(scale):
    rng = np.random.default_rng(7)
    B = rng.normal(size=(50, 7, 7))
    A = (-(B @ B.transpose(0, 2, 1)) + (B - B.transpose(0, 2, 1))) * scale / 10
    ref = np.stack([scipy.linalg.expm(a) for a in A])
    np.testing.assert_allclose(expm(A), ref, rtol=1e-9, atol=1e-12)
