"""cim_twin: the open engine for the yearly urban health check (城市体检) on a 3D city model.

``import cim_twin`` stays cheap: no VTK, no plugin discovery. The heavy parts load on use.

>>> import cim_twin
>>> scene = cim_twin.read_scene("city.gml")          # doctest: +SKIP
>>> scene.counts()                                    # doctest: +SKIP
{'Building': 47, 'BuildingPart': 71}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["CimTwinError", "Scene", "__version__", "read_scene"]

if TYPE_CHECKING:
    from .errors import CimTwinError
    from .io import read_scene
    from .scene import Scene


def __getattr__(name: str) -> Any:
    # Lazy re-exports keep the import of the package itself light.
    if name == "read_scene":
        from .io import read_scene

        return read_scene
    if name == "Scene":
        from .scene import Scene

        return Scene
    if name == "CimTwinError":
        from .errors import CimTwinError

        return CimTwinError
    raise AttributeError(f"module 'cim_twin' has no attribute {name!r}")
