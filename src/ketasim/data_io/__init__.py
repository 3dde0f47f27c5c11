"""Analyses of NONMEM-style datasets (:mod:`ketasim.datasets`): model predictions for each subject's own
dosing, observed-vs-predicted residuals and NCA of the observed profiles. The visual predictive check is
in :mod:`ketasim.vpc`, exports in :mod:`ketasim.export`."""
