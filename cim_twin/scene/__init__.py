"""Scene graph core: Scene, CityObject, Mesh (numpy geometry), surface semantics, spatial index.

Knows nothing of file formats, plugins or rendering.
"""

from __future__ import annotations

from .mesh import Mesh, SurfaceTable
from .objects import URI, Address, BoundarySurface, CityObject, Lifespan, Measure
from .scene import Material, Scene, SceneSource, SpatialIndex, Texture
from .semantics import SurfaceType

__all__ = [
    "URI",
    "Address",
    "BoundarySurface",
    "CityObject",
    "Lifespan",
    "Material",
    "Measure",
    "Mesh",
    "Scene",
    "SceneSource",
    "SpatialIndex",
    "SurfaceTable",
    "SurfaceType",
    "Texture",
]
