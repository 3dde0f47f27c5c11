"""Patient covariates that act on pharmacokinetics, as arrays over a leading patient axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ketasim.errors import KetasimError
from ketasim.physiology import Physiology


@dataclass(frozen=True)
class Covariates:
    """Body weight (kg), CYP2B6 genotype and enzyme activity factors for P patients.

    ``enzyme_factors`` maps an enzyme name (``"CYP3A4"``) to a multiplier of its intrinsic clearance
    per patient: below 1 for an inhibitor, above 1 for an inducer.
    """

    weight: np.ndarray
    cyp2b6: tuple[str, ...]
    enzyme_factors: Mapping[str, np.ndarray] = field(default_factory=dict)

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
    ) -> Covariates:
        w = np.asarray(weight, dtype=float)
        g = tuple(cyp2b6) if cyp2b6 is not None else ("*1/*1",) * w.size
        return cls(w, g, {k: np.asarray(v, dtype=float) for k, v in (enzyme_factors or {}).items()})

    def activity(self, enzyme: str, physiology: Physiology) -> np.ndarray:
        """Relative intrinsic-clearance activity of ``enzyme`` for each patient."""
        e = enzyme.upper()
        a = np.ones(self.n)
        if e == "CYP2B6":
            a = a * np.array([physiology.cyp2b6_activity(g) for g in self.cyp2b6])
        if e in self.enzyme_factors:
            a = a * self.enzyme_factors[e]
        return a
