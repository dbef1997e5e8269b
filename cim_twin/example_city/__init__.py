"""The example Nanping-like district: a deterministic, streaming generator of a complete project.

:func:`generate` writes a project folder for one or more annual epochs::

    OUT_DIR/
      twin.toml                      the project file
      city_<Y>.gml                   CityGML 2.0, EPSG:4548, LOD1 + LOD2, one file per year
      layers/districts.geojson       spatial units (EPSG:4326)
      layers/blocks.geojson
      layers/communities.geojson
      layers/<Y>/roads.geojson       road centrelines as they are in year Y
      layers/<Y>/...                 auxiliary layers (parks, POIs, population, ...) when
                                     :mod:`cim_twin.example_city.layers` is installed

Auxiliary layers come from ``cim_twin/example_city/layers.py`` when that module exists: for every
year :func:`generate` calls ``write_layers(layout, out_dir, year, rng)`` (``rng`` a
:class:`random.Random` that depends only on the seed and the year), which writes its files under
``out_dir`` and returns the ``[layers.NAME]`` entries of ``twin.toml`` for them (a mapping of layer
name to ``{"path": "layers/{period}/poi.geojson", "kind": "poi", ...}``; paths relative to
``out_dir``, ``{period}`` for per-year files), or None.

The plan itself is :class:`~cim_twin.example_city.layout.DistrictLayout`
(:func:`~cim_twin.example_city.layout.build_layout`): spatial units, roads and a stream of
buildings, the API for anyone writing further layers of the same district.

>>> from cim_twin.example_city import generate
>>> result = generate("example", buildings=500, seed=1)      # doctest: +SKIP
>>> result.files["city_2025.gml"]                            # doctest: +SKIP
500
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .layout import DEFAULT_YEARS, DistrictLayout, build_layout

__all__ = [
    "DEFAULT_BUILDINGS",
    "DEFAULT_YEARS",
    "GenerateResult",
    "build_layout",
    "generate",
    "generated_project",
    "refuse_foreign_project",
]

#: Size of the district that ``cim-twin generate`` writes by default.
DEFAULT_BUILDINGS = 2000
_MAX_BUILDINGS = 5_000_000


@dataclass
class GenerateResult:
    """What :func:`generate` wrote: the folder, the layout, the epochs, and the building count of
    each CityGML file (``files["city_2025.gml"] == 2000``) and the layer entries of twin.toml."""

    out_dir: Path
    layout: DistrictLayout
    years: list[int]
    files: dict[str, int] = field(default_factory=dict)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)


def _layers_writer() -> Callable[..., Any] | None:
    """``write_layers`` of :mod:`cim_twin.example_city.layers` when that module is present.

    Only a missing module means "no auxiliary layers"; an error inside it propagates, so a broken
    layer writer is never silently skipped."""
    if importlib.util.find_spec(f"{__name__}.layers") is None:
        return None
    from . import layers

    return getattr(layers, "write_layers", None)


def generate(
    out_dir: str | os.PathLike[str],
    *,
    buildings: int = DEFAULT_BUILDINGS,
    seed: int = 1,
    years: Iterable[int] = DEFAULT_YEARS,
    lod1: bool = True,
    lod2: bool = True,
    gzip: bool = False,
    aux_layers: bool = True,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> GenerateResult:
    """Write the example project folder (see the module docstring) into ``out_dir``.

    Parameters
    ----------
    out_dir
        the project folder (created; files of the same names are replaced).
    buildings
        buildings in each epoch from 2023 on (1 to 5,000,000).
    seed
        the same ``(buildings, seed)`` gives byte-identical files.
    years
        the annual epochs to write, e.g. ``(2023, 2024, 2025)``.
    lod1, lod2
        which levels of detail the CityGML files hold.
    gzip
        write ``city_<Y>.gml.gz`` instead of ``city_<Y>.gml`` (about a sixth of the size).
    aux_layers
        call :func:`cim_twin.example_city.layers.write_layers` for every year when it exists.
    progress
        called with a short line per step (for a command line).
    force
        write even into a folder whose ``twin.toml`` this generator did not write (it is replaced).

    Returns
    -------
    GenerateResult

    Raises
    ------
    ValueError
        for a building count out of range, no years, or no LOD.
    ConfigError
        when ``out_dir`` holds a ``twin.toml`` the generator did not write (unless ``force``).
    """
    if not 1 <= buildings <= _MAX_BUILDINGS:
        raise ValueError(f"buildings must be between 1 and {_MAX_BUILDINGS:,} (got {buildings})")
    year_list = sorted({int(y) for y in years})
    if not year_list:
        raise ValueError("give at least one year")
    if any(not 1950 <= y <= 2100 for y in year_list):
        raise ValueError(f"years must lie between 1950 and 2100 (got {year_list})")
    from ..progress import progress as bar
    from .citygml import write_citygml
    from .project import BASE_LAYERS, write_project
    from .roads import write_roads
    from .units import write_units

    say = progress or (lambda _line: None)
    root = Path(out_dir)
    if not force:
        refuse_foreign_project(root)
    root.mkdir(parents=True, exist_ok=True)
    layout = build_layout(buildings=buildings, seed=seed)
    result = GenerateResult(out_dir=root, layout=layout, years=year_list)
    result.layers = {name: dict(entry) for name, entry in BASE_LAYERS.items()}
    write_units(layout, root / "layers")
    writer = _layers_writer() if aux_layers else None
    for year in year_list:
        name = f"city_{year}.gml" + (".gz" if gzip else "")
        say(f"writing {name}")
        with bar(total=buildings, desc=name, unit="bldg", unit_scale=True) as tick:
            result.files[name] = write_citygml(layout, root / name, year, lod1=lod1, lod2=lod2,
                                               on_progress=tick.update)
        write_roads(layout, root / "layers" / str(year) / "roads.geojson", year)
        if writer is not None:
            say(f"writing the auxiliary layers of {year}")
            entries = writer(layout, root, year, layout.random_for("layers", year))
            if isinstance(entries, Mapping):
                for layer_name, entry in entries.items():
                    result.layers.setdefault(str(layer_name), dict(entry))
    write_project(root, year_list, result.layers, buildings=buildings, seed=seed,
                  source="city_{period}.gml" + (".gz" if gzip else ""))
    return result


def generated_project(project_file: Path) -> bool:
    """True when ``project_file`` is a twin.toml written by this generator (safe to replace)."""
    from .project import GENERATED_MARK

    with open(project_file, encoding="utf-8", errors="replace") as fh:
        return fh.readline().startswith(GENERATED_MARK)


def refuse_foreign_project(out_dir: Path) -> None:
    """Raise when ``out_dir`` holds a project file this generator did not write: a user's own
    project must never be replaced by the example.

    Raises
    ------
    ConfigError
        naming the project file.
    """
    from ..errors import ConfigError

    existing = Path(out_dir) / "twin.toml"
    if existing.is_file() and not generated_project(existing):
        raise ConfigError(
            "holds a project file that cim-twin generate did not write; it would be replaced",
            path=existing,
            hint="choose another folder, or add --force to overwrite",
        )
