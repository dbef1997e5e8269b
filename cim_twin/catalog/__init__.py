"""Check runs over the years (一年一体检, 三年一评估) and the loop they close: problems on the map,
projects, evaluation, map update, next check.

:class:`Catalog` is the store (a SQLite file that is an OGC GeoPackage); :mod:`.diff` compares
runs, :mod:`.projects` keeps the project library, :mod:`.actions` recommends 留改拆 per building,
:mod:`.lists` writes problem and task lists, :mod:`.report` the run report and :mod:`.epochs` the
map update between two epochs of a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import SCHEMA_VERSION, Catalog, CatalogError, FindingArrays, RunSummary

__all__ = ["SCHEMA_VERSION", "Catalog", "CatalogError", "FindingArrays", "RunSummary"]


def __getattr__(name: str) -> Any:
    # The store pulls in numpy and the models: load it on first use, not when the CLI starts.
    if name in __all__:
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
