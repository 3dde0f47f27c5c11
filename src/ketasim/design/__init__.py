"""The compound designer: hypothetical compounds defined by their properties, and their predicted profile.

- :mod:`ketasim.design.properties`: the designable properties and ``PROPERTY=VALUE`` parsing.
- :mod:`ketasim.design.build`: a base compound with properties changed (protocol-derived ones solved).
- :mod:`ketasim.design.files`: the designed compound as compound files, read by the library loader.
- :mod:`ketasim.design.predict`: a small virtual trial beside ketamine 0.5 mg/kg over 40 min and saline.
- :mod:`ketasim.design.sweep`: one property over a range, with a plot.
"""

from ketasim.design.build import Design, design
from ketasim.design.properties import PROPERTIES, parse_overrides, property_names

__all__ = ["PROPERTIES", "Design", "design", "parse_overrides", "property_names"]
