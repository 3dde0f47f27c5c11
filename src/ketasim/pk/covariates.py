"""Patient covariates that act on pharmacokinetics, as arrays over a leading patient axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ketasim.errors import KetasimError
from ketasim.physiology import Physiology

# Between-patient factors on the PK (median 1), as sampled by :mod:`ketasim.population`
# (``[variability.<name>]`` of a population file): central volume of every species, hepatic blood flow,
# nasal absorption rate, and the odds of nasal (vs swallowed) absorption of an intranasal dose.
PK_FACTORS = ("v1", "hepatic_blood_flow", "ka_nasal", "f_nasal")


@dataclass(frozen=True)
class Covariates:
    """Body weight (kg), CYP2B6 genotype, enzyme activity factors and PK factors for P patients.

    ``enzyme_factors`` maps an enzyme name (``"CYP3A4"``) to a multiplier of its intrinsic clearance
    per patient: below 1 for an inhibitor, above 1 for an inducer. ``pk_factors`` maps a name of
    :data:`PK_FACTORS` to a multiplier per patient (for ``f_nasal`` a multiplier of the odds, which
    keeps the fraction in (0, 1)).
    """

    weight: np.ndarray
    cyp2b6: tuple[str, ...]
    enzyme_factors: Mapping[str, np.ndarray] = field(default_factory=dict)
    pk_factors: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        w = np.atleast_1d(np.asarray(self.weight, dtype=float))
        if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w <= 0) or np.any(w > 400):
            raise KetasimError("body weight must be between 0 and 400 kg", argument="weight")
        object.__setattr__(self, "weight", w)
        if len(self.cyp2b6) != w.size:
            raise KetasimError("one CYP2B6 genotype per patient is needed", argument="cyp2b6")
        factors = {}
        for k, v in self.enzyme_factors.items():
            a = np.broadcast_to(np.asarray(v, dtype=float), w.shape).copy()
            if not np.all(np.isfinite(a)) or np.any(a < 0):
                raise KetasimError(
                    f"enzyme factor for {k} must be zero or positive", argument="enzyme_factors"
                )
            factors[k.upper()] = a
        object.__setattr__(self, "enzyme_factors", factors)
        pk = {}
        for k, v in self.pk_factors.items():
            if k not in PK_FACTORS:
                raise KetasimError(
                    f"unknown PK factor '{k}'",
                    argument="pk_factors",
                    fix="use one of: " + ", ".join(PK_FACTORS),
                )
            a = np.broadcast_to(np.asarray(v, dtype=float), w.shape).copy()
            if not np.all(np.isfinite(a)) or np.any(a <= 0):
                raise KetasimError(f"PK factor {k} must be positive", argument="pk_factors")
            pk[k] = a
        object.__setattr__(self, "pk_factors", pk)

    @property
    def n(self) -> int:
        return self.weight.size

    @classmethod
    def single(
        cls, weight: float = 70.0, cyp2b6: str = "*1/*1", enzyme_factors: Mapping[str, float] | None = None
    ) -> Covariates:
        return cls(
            np.array([weight], dtype=float),
            (cyp2b6,),
            {k: np.array([v]) for k, v in (enzyme_factors or {}).items()},
        )

    @classmethod
    def batch(
        cls,
        weight: Sequence[float] | np.ndarray,
        cyp2b6: Sequence[str] | None = None,
        enzyme_factors: Mapping[str, Sequence[float] | np.ndarray] | None = None,
        pk_factors: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    ) -> Covariates:
        w = np.asarray(weight, dtype=float)
        g = tuple(cyp2b6) if cyp2b6 is not None else ("*1/*1",) * w.size
        return cls(
            w,
            g,
            {k: np.asarray(v, dtype=float) for k, v in (enzyme_factors or {}).items()},
            {k: np.asarray(v, dtype=float) for k, v in (pk_factors or {}).items()},
        )

    def pk_factor(self, name: str) -> np.ndarray:
        """The per-patient factor ``name`` of :data:`PK_FACTORS` (ones when not given)."""
        return self.pk_factors.get(name, np.ones(self.n))

    def activity(self, enzyme: str, physiology: Physiology) -> np.ndarray:
        """Relative intrinsic-clearance activity of ``enzyme`` for each patient."""
        e = enzyme.upper()
        a = np.ones(self.n)
        if e == "CYP2B6":
            a = a * np.array([physiology.cyp2b6_activity(g) for g in self.cyp2b6])
        if e in self.enzyme_factors:
            a = a * self.enzyme_factors[e]
        return a
