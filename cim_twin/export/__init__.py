"""The CIM export folder: buildings as 3D Tiles 1.1 (glb, EXT_mesh_features, EXT_structural_metadata)
and 1.0 (b3dm), the run's problems as 3D Tiles points, GeoJSON and CZML, the problem and task lists,
layers.json and a conversion audit (see docs/cim-import.md).

>>> from cim_twin.export import ExportOptions, export_folder   # doctest: +SKIP
>>> export_folder(scene, Path("cim"), run=load_run("runs/2025-..."),
...               options=ExportOptions(tiles_version="both", color_by="severity"))  # doctest: +SKIP

Modules: :mod:`.writer` (folders, safe writes), :mod:`.buildings` and :mod:`.tiling` (features, tile
tree), :mod:`.gltf` and :mod:`.b3dm` (content), :mod:`.points`, :mod:`.geojson`, :mod:`.czml`
(problems), :mod:`.features` (flattening, schema), :mod:`.style` (colours), :mod:`.manifest`
(layers.json), :mod:`.audit`, :mod:`.streaming` (large CityGML files), :mod:`.run` (runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ExportOptions", "RunData", "TilingOptions", "export_citygml", "export_folder", "load_run"]

if TYPE_CHECKING:
    from .buildings import TilingOptions
    from .run import RunData, load_run
    from .writer import ExportOptions, export_citygml, export_folder


def __getattr__(name: str) -> Any:
    # lazy, so that importing the package (e.g. for the CLI's help) stays cheap
    if name in ("ExportOptions", "export_citygml", "export_folder"):
        from . import writer

        return getattr(writer, name)
    if name in ("RunData", "load_run"):
        from . import run

        return getattr(run, name)
    if name == "TilingOptions":
        from .buildings import TilingOptions

        return TilingOptions
    raise AttributeError(f"module 'cim_twin.export' has no attribute {name!r}")
