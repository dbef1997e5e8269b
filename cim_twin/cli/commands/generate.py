"""``cim-twin generate OUT_DIR``: write the example Nanping-like district as a project folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ...errors import ConfigError


def _years(text: str) -> list[int]:
    """``2023,2024,2025`` or a range ``2023-2025``."""
    years: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                years.extend(range(lo, hi + 1))
            else:
                years.append(int(part))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of years: {text!r} (e.g. 2023,2024,2025 or 2023-2025)") from exc
    if not years:
        raise argparse.ArgumentTypeError("give at least one year")
    return years


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from ...example_city import DEFAULT_BUILDINGS, DEFAULT_YEARS

    p = sub.add_parser(
        "generate",
        parents=[common],
        help="write the example Nanping-like district (CityGML 2.0, layers, twin.toml) into a folder",
        description="Write a deterministic example project: a Nanping-like district in EPSG:4548 as "
        "CityGML 2.0 (LOD1 + LOD2) for each annual epoch, the spatial units, the roads and the "
        "project file twin.toml. Streams the buildings, so memory stays flat from 10 to 1,000,000 "
        "buildings; the same --buildings and --seed give byte-identical files.",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="project folder to write (created)")
    p.add_argument("--buildings", type=int, default=DEFAULT_BUILDINGS,
                   help=f"buildings in each epoch (default {DEFAULT_BUILDINGS})")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--years", type=_years, default=list(DEFAULT_YEARS),
                   help="annual epochs, e.g. 2023,2024,2025 or 2023-2025 (default %(default)s)")
    p.add_argument("--year", dest="years", type=_years, help="a single epoch (same as --years Y)")
    p.add_argument("--lod2-only", action="store_true", help="write LOD2 only (no LOD1 solids)")
    p.add_argument("--gzip", action="store_true", help="write city_<Y>.gml.gz (gzip-compressed CityGML)")
    p.add_argument("--no-layers", action="store_true", help="skip the auxiliary layers (parks, POIs, ...)")
    p.add_argument("--force", action="store_true",
                   help="write even into a folder whose twin.toml was not written by this generator")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ...example_city import generate

    if args.buildings < 1:
        raise ConfigError(f"--buildings must be at least 1 (got {args.buildings})", hint="e.g. --buildings 2000")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise ConfigError("not a folder", path=args.out_dir, hint="give a folder to write the project into")
    start = time.perf_counter()

    def say(line: str) -> None:
        if not args.quiet:
            print(f"  {line}", file=sys.stderr)

    try:
        result = generate(
            args.out_dir,
            buildings=args.buildings,
            seed=args.seed,
            years=args.years,
            lod1=not args.lod2_only,
            gzip=args.gzip,
            aux_layers=not args.no_layers,
            progress=say,
            force=args.force,
        )
    except ValueError as exc:
        raise ConfigError(str(exc), hint="see cim-twin generate --help") from exc
    except OSError as exc:
        raise ConfigError(f"cannot write the project: {exc.strerror or exc}", path=exc.filename or args.out_dir,
                          hint="check the folder is writable and the disk has room") from exc
    if not args.quiet:
        files = ", ".join(f"{name} ({n:,} buildings)" for name, n in result.files.items())
        print(f"wrote {result.out_dir}: {files}; layers: {', '.join(result.layers)}; "
              f"{time.perf_counter() - start:.1f} s")
        print(f"next: cim-twin info {result.out_dir / f'city_{max(result.years)}.gml'}")
    return 0
