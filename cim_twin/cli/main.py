"""Entry point of ``cim-twin``.

Each subcommand lives in :mod:`cim_twin.cli.commands` as a module with ``register(subparsers,
common)``; the module sets ``func`` on its parser to a ``run(args) -> int``. Exit codes: 0 success,
1 completed with failures (some indicators failed), 2 user error (one clear line, no traceback
unless ``--debug``), 3 unexpected internal error.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import CimTwinError

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USER_ERROR = 2
EXIT_INTERNAL = 3


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug detail")
    parser = argparse.ArgumentParser(
        prog="cim-twin",
        description="Urban health check (城市体检) on a 3D city model: read CityGML / 3D Tiles, "
        "evaluate indicators, keep check runs over the years, export CIM layers, view in 3D.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"cim-twin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args.func(args) or 0)
    except CimTwinError as exc:
        if debug:
            raise
        print(f"cim-twin: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cim-twin: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if debug:
            raise
        print(
            f"cim-twin: internal error: {type(exc).__name__}: {exc} -- hint: run again with --debug "
            "for the traceback and report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
