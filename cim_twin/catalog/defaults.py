"""Defaults of the catalog that the command line shows in its help (kept free of heavy imports, so
that ``cim-twin --help`` does not load numpy or the models)."""

from __future__ import annotations

#: Radius (m, scene CRS) within which an unmatched finding may match one of the same indicator in
#: another run (diff and project evaluation).
MATCH_RADIUS_M = 30.0
#: Findings of one block and category closer than this (m) form one project.
PROJECT_RADIUS_M = 100.0
#: A project wider than this (m, bounding-box diagonal) is split by community.
PROJECT_MAX_EXTENT_M = 300.0
PROJECT_STATUSES = ("candidate", "approved", "in_progress", "done", "cancelled")
