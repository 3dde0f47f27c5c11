import pytest

from ketasim import units
from ketasim.errors import KetasimError


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("40 min", "time", 40 / 60),
        ("2 d", "time", 48.0),
        ("56 mg", "mass", 56.0),
        ("0.5 g", "mass", 500.0),
        ("500 ug", "mass", 0.5),
        ("500 µg", "mass", 0.5),
        ("500 mcg", "mass", 0.5),
        ("0.5 mg/kg", "mass_per_weight", 0.5),
        ("500 ug/kg", "mass_per_weight", 0.5),
        ("1450 mL/min", "clearance", 87.0),
        ("1 nM", "concentration", 1e-3),
        ("185 nmol/L", "concentration", 0.185),
        ("-70 mV", "voltage", -70.0),
    ],
)
def test_parse_to_canonical(text, kind, expected):
    assert units.parse(text, kind, "x") == pytest.approx(expected, rel=1e-12)


def test_wrong_dimension_names_argument_and_kind():
    with pytest.raises(KetasimError, match=r"--dose: '5 parsec' does not convert to mass"):
        units.parse("5 parsec", "mass", "--dose")


def test_unreadable_quantity():
    with pytest.raises(KetasimError, match="cannot read"):
        units.parse("five mg", "mass", "--dose")


def test_number_without_unit_is_refused_for_dimensional_kinds():
    with pytest.raises(KetasimError, match="has no unit"):
        units.parse(40, "time", "--duration")
    assert units.parse(0.3, "dimensionless", "f") == 0.3


def test_dimension_of():
    assert units.dimension_of("0.5 mg/kg") == "mass_per_weight"
    assert units.dimension_of("56 mg") == "mass"
    assert units.dimension_of("10 umol") == "amount"
    assert units.dimension_of("5 parsec") is None
