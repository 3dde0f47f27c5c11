"""Brain and cell: brain extracellular fluid, cytosol and lysosomes by pH partition."""

from ketasim.brain.partition import log_d, neutral_fraction, trapping_ratio

__all__ = ["log_d", "neutral_fraction", "trapping_ratio"]
