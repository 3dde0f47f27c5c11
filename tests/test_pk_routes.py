"""Extravascular routes of the real compound library: bioavailability is assembled from its parts.

Sublingual and intranasal doses follow the structure of Perez-Ruixo C et al. 2021 (Clin
Pharmacokinet 60:501): a fraction ``f`` is absorbed through the mucosa straight into the
circulation and the rest is swallowed. For a linear system this gives, exactly,
F_route = f + (1 - f) * F_oral, and F_oral = fa * fg * F_H with F_H = 1 - E_H from the
well-stirred liver. Both identities are checked against simulated AUCs.
"""

import numpy as np
import pytest

from ketasim.dosing import Dose, Regimen
from ketasim.pk.covariates import Covariates
from ketasim.pk.exposure import parent_auc
from ketasim.pk.model import build_model
from ketasim.pk.simulate import simulate

TIMES = np.concatenate([np.linspace(0, 12, 1201), np.linspace(12.5, 240, 456)])


def _bioavailability(library, compound: str, route: str) -> float:
    reg = Regimen.single(Dose.parse(compound, "20 mg", route))
    a = parent_auc(simulate(reg, times=TIMES, library=library))
    b = parent_auc(simulate(reg.as_iv_bolus(), times=TIMES, library=library))
    return a / b


@pytest.mark.parametrize("compound", ["esketamine", "arketamine"])
def test_oral_bioavailability_is_fa_fg_fh(library, compound):
    sp = library.species(compound)
    model = build_model(Regimen.single(Dose.parse(compound, "20 mg", "oral")), Covariates.single(), library)
    fh = model.hepatic_availability[0, model.species_index[sp.id]]
    t = sp.absorption["oral"]
    expected = t["fa"].value * t["fg"].value * fh
    assert _bioavailability(library, compound, "oral") == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("compound", "route", "key"),
    [
        ("esketamine", "sublingual", "f_mucosal"),
        ("arketamine", "sublingual", "f_mucosal"),
        ("esketamine", "intranasal", "f_nasal"),
    ],
)
def test_mucosal_routes_add_a_direct_fraction_to_the_swallowed_rest(library, compound, route, key):
    f = library.species(compound).absorption[route][key].value
    f_oral = _bioavailability(library, compound, "oral")
    assert _bioavailability(library, compound, route) == pytest.approx(f + (1 - f) * f_oral, rel=2e-3)
