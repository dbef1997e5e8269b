"""JSON Schemas of the value models, as committed under ``schemas/`` (``cim-twin schemas``).

Other tools (a CIM platform importing findings, a catalog in another language) validate against
these files; a test regenerates them and fails when the committed copies drift from the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import CheckRun, IndicatorSpec, Measurement, ProblemPoint

__all__ = ["PROJECT_SCHEMA", "SCHEMA_MODELS", "json_schemas", "write_schemas"]

#: File name -> model.
SCHEMA_MODELS: dict[str, Any] = {
    "check_run.schema.json": CheckRun,
    "indicator_spec.schema.json": IndicatorSpec,
    "measurement.schema.json": Measurement,
    "problem_point.schema.json": ProblemPoint,
}


#: The project file, for editors that validate TOML against a JSON Schema (an input: validation form).
PROJECT_SCHEMA = "twin_toml.schema.json"


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every schema by file name (draft 2020-12): the records in their serialised form, the
    project file in its input form."""
    from ..project import ProjectFile

    out: dict[str, dict[str, Any]] = {}
    for name, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        out[name] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    project = ProjectFile.model_json_schema(mode="validation")
    out[PROJECT_SCHEMA] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **project}
    return out


def write_schemas(folder: str | Path) -> list[Path]:
    """Write every schema into ``folder`` (deterministic bytes); returns the paths written."""
    from ..serialization import atomic_write_bytes, dumps_pretty

    target = Path(folder)
    written = []
    for name, schema in json_schemas().items():
        path = target / name
        data = dumps_pretty(schema)
        if not path.is_file() or path.read_bytes() != data:
            atomic_write_bytes(path, data)
        written.append(path)
    return written
