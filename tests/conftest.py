"""Shared fixtures: the packaged library and synthetic compounds with analytic solutions."""

from __future__ import annotations

import os

# The PK matrices are small (tens of states): BLAS threads only compete with each other and with the
# engine's own threads (scipy's expm ran ~40x slower on a loaded 2-core machine). Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path

import pytest

from ketasim.compounds import default_library, load_library

P = 'source = "synthetic test compound", status = "assumed"'


def species_toml(
    cid: str,
    *,
    v1=50.0,
    cl=10.0,
    q2=None,
    v2=None,
    product=None,
    organ="kidney",
    enzyme=None,
    oral=None,
    extra="",
    ionization="base",
    pka=7.5,
) -> str:
    """A minimal species file; ``oral`` = (ka, fa, fg)."""
    lines = [
        f'id = "{cid}"',
        f'analyte = "{cid.upper()}"',
        f'group = "{cid}"',
        "[properties]",
        f'mw = {{ value = 200.0, unit = "g/mol", {P} }}',
        f'ionization = "{ionization}"',
    ]
    if pka is not None and ionization in ("base", "acid"):
        lines.append(f'pka = {{ value = {pka}, unit = "", {P} }}')
    lines += [
        f'logp = {{ value = 2.0, unit = "", {P} }}',
        f'fu = {{ value = 0.5, unit = "", {P} }}',
        f'blood_plasma_ratio = {{ value = 1.0, unit = "", {P} }}',
        "[pk]",
        f'v1 = {{ value = {v1}, unit = "L", {P} }}',
    ]
    if q2 is not None:
        lines += [f'q2 = {{ value = {q2}, unit = "L/h", {P} }}', f'v2 = {{ value = {v2}, unit = "L", {P} }}']
    lines += ["[[pk.elimination]]", f'organ = "{organ}"']
    if enzyme:
        lines.append(f'enzyme = "{enzyme}"')
    if product:
        lines.append(f'product = "{product}"')
    lines.append(f'cl = {{ value = {cl}, unit = "L/h", {P} }}')
    if oral:
        ka, fa, fg = oral
        lines += [
            "[absorption.oral]",
            f'ka = {{ value = {ka}, unit = "1/h", {P} }}',
            f'fa = {{ value = {fa}, unit = "", {P} }}',
            f'fg = {{ value = {fg}, unit = "", {P} }}',
        ]
    return "\n".join(lines) + "\n" + extra


@pytest.fixture(scope="session")
def library():
    return default_library()


@pytest.fixture
def synthetic(tmp_path: Path):
    """Library with synthetic 'drugone' (1-cpt, renal), 'parent' -> 'daughter' and an oral liver drug."""
    (tmp_path / "drugone.toml").write_text(species_toml("drugone", v1=50.0, cl=10.0))
    (tmp_path / "parent.toml").write_text(
        species_toml("parent", v1=40.0, cl=20.0, product="daughter", organ="other")
    )
    (tmp_path / "daughter.toml").write_text(species_toml("daughter", v1=80.0, cl=5.0))
    (tmp_path / "hepatic.toml").write_text(
        species_toml("hepatic", v1=60.0, cl=45.0, organ="liver", enzyme="CYP3A4", oral=(1.5, 0.9, 0.8))
    )
    return load_library([tmp_path])
