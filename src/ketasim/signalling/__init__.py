"""Signalling scale: eEF2K/eEF2, BDNF and VEGF, TrkB/ERK/Akt, mTORC1, GSK3, synaptic proteins, AMPA."""
