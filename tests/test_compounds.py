import math

import pytest

from ketasim.compounds import Mixture, Species, load_file, load_library
from ketasim.errors import KetasimError
from ketasim.provenance import Status

from .conftest import species_toml

REQUIRED = [
    "ketamine",
    "esketamine",
    "arketamine",
    "s-norketamine",
    "r-norketamine",
    "dehydronorketamine",
    "2r6r-hydroxynorketamine",
    "2s6s-hydroxynorketamine",
    "memantine",
    "lanicemine",
    "traxoprodil",
    "mk-0657",
    "midazolam",
    "ketamine-methiodide",
]


def test_library_has_every_required_compound(library):
    for cid in REQUIRED:
        assert library.get(cid).id == cid


def test_every_parameter_has_unit_source_and_status(library):
    n = 0
    for c in library.compounds.values():
        for key, p in c.params().items():
            n += 1
            assert p.source.strip(), key
            assert isinstance(p.status, Status), key
            assert math.isfinite(p.value), key
            if p.status is Status.FITTED:
                assert p.calibration, f"{key} is fitted but names no calibration data"
    assert n > 150


def test_racemate_is_half_and_half(library):
    k = library.get("ketamine")
    assert isinstance(k, Mixture)
    assert k.components == {"esketamine": 0.5, "arketamine": 0.5}


def test_metabolite_chain_closure(library):
    ids = [s.id for s in library.closure(["ketamine"])]
    for sid in [
        "esketamine",
        "arketamine",
        "s-norketamine",
        "r-norketamine",
        "s-dehydronorketamine",
        "r-dehydronorketamine",
        "2s6s-hydroxynorketamine",
        "2r6r-hydroxynorketamine",
    ]:
        assert sid in ids
    assert ids.index("esketamine") < ids.index("s-norketamine")


def test_lookup_by_alias_and_analyte_case_insensitive(library):
    assert library.get("S-Ketamine").id == "esketamine"
    assert library.get("Spravato").id == "esketamine"
    assert library.get("(2R,6R)-HNK").id == "2r6r-hydroxynorketamine"


def test_unknown_compound_suggests_near_miss(library):
    with pytest.raises(KetasimError, match="did you mean 'ketamine'"):
        library.get("ketamin")


def test_charged_analogue_is_permanently_charged(library):
    sp = library.species("ketamine-methiodide")
    assert isinstance(sp, Species) and sp.ionization == "permanent_cation"


def _write(tmp_path, text, name="bad"):
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def test_loader_names_the_field_with_a_bad_unit(tmp_path):
    text = species_toml("bad").replace('v1 = { value = 50.0, unit = "L"', 'v1 = { value = 50.0, unit = "mg"')
    with pytest.raises(
        KetasimError, match=r"bad.toml: pk.v1: unit|bad.toml: pk.v1: '50.0 mg' does not convert"
    ):
        load_file(_write(tmp_path, text))


def test_loader_names_the_field_out_of_range(tmp_path):
    text = species_toml("bad").replace("fu = { value = 0.5", "fu = { value = 1.5")
    with pytest.raises(KetasimError, match=r"properties.fu: value 1.5 .* outside the plausible range"):
        load_file(_write(tmp_path, text))


def test_loader_requires_calibration_for_fitted(tmp_path):
    text = species_toml("bad").replace(
        'unit = "L", source = "synthetic test compound", status = "assumed"',
        'unit = "L", source = "x", status = "fitted"',
    )
    with pytest.raises(KetasimError, match=r"pk.v1: a fitted parameter must name its calibration data"):
        load_file(_write(tmp_path, text))


def test_loader_rejects_missing_required_and_unknown_fields(tmp_path):
    text = species_toml("bad").replace("[pk]\n", "[pk]\nvee1 = 3\n")
    with pytest.raises(KetasimError, match=r"pk.vee1: unknown field"):
        load_file(_write(tmp_path, text))
    text = "\n".join(line for line in species_toml("bad").splitlines() if not line.startswith("fu ="))
    with pytest.raises(KetasimError, match=r"properties.fu: required field is missing"):
        load_file(_write(tmp_path, text))


def test_loader_rejects_malformed_toml_and_id_mismatch(tmp_path):
    with pytest.raises(KetasimError, match="not valid TOML"):
        load_file(_write(tmp_path, "id = [unclosed"))
    with pytest.raises(KetasimError, match="differs from the file name"):
        load_file(_write(tmp_path, species_toml("other"), name="bad"))


def test_library_rejects_missing_product(tmp_path):
    _write(tmp_path, species_toml("lonely", product="ghost", organ="other"), name="lonely")
    with pytest.raises(KetasimError, match="product 'ghost' is not a species"):
        load_library([tmp_path])


def test_mixture_fractions_must_sum_to_one(tmp_path):
    text = (
        'id = "mix"\n[components]\nesketamine = 0.5\narketamine = 0.4\n[properties]\n'
        'mw = { value = 237.73, unit = "g/mol", source = "x", status = "measured" }\n'
    )
    with pytest.raises(KetasimError, match=r"sum to 0\.9"):
        load_file(_write(tmp_path, text, name="mix"))
