"""CityGML 1.0 / 2.0 / 3.0 reader: streaming, safe, with xlink resolution, appearances and
triangulated geometry per LOD.

>>> from cim_twin.io.citygml import read_citygml   # doctest: +SKIP
>>> scene = read_citygml("district.gml.gz")          # doctest: +SKIP
"""

from __future__ import annotations

from .reader import CityGMLReader, citygml_info, iter_citygml, read_citygml

__all__ = ["CityGMLReader", "citygml_info", "iter_citygml", "read_citygml"]
