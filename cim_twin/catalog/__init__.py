"""Check runs over the years (一年一体检, 三年一评估) and the loop they close: problems on the map,
projects, evaluation, map update, next check.

:class:`Catalog` is the store (a SQLite file that is an OGC GeoPackage); :mod:`.diff` compares
runs, :mod:`.projects` keeps the project library, :mod:`.actions` recommends 留改拆 per building,
:mod:`.lists` writes problem and task lists, :mod:`.report` the run report and :mod:`.epochs` the
map update between two epochs of a model.
"""

from __future__ import annotations

from .store import SCHEMA_VERSION, Catalog, CatalogError, FindingArrays, RunSummary

__all__ = ["SCHEMA_VERSION", "Catalog", "CatalogError", "FindingArrays", "RunSummary"]
