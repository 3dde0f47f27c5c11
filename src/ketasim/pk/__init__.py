"""Systemic pharmacokinetics: a linear mammillary model per species, linked by metabolism."""

from ketasim.pk.covariates import Covariates
from ketasim.pk.model import PKModel, build_model

__all__ = ["Covariates", "PKModel", "build_model"]
