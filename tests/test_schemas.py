"""schemas/ holds the JSON Schemas of the models; this test fails when they drift."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cim_twin.model import CheckRun, IndicatorRunStatus, Measurement, ProblemPoint, Severity, problem_id
from cim_twin.model.schemas import SCHEMA_MODELS, json_schemas
from cim_twin.serialization import dumps_pretty, loads

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_match_the_models() -> None:
    generated = json_schemas()
    # schemas/ may hold other schemas too (e.g. the export manifest's); these are the models'
    assert set(generated) <= {p.name for p in SCHEMAS.glob("*.schema.json")}
    stale = [name for name, schema in generated.items() if (SCHEMAS / name).read_bytes() != dumps_pretty(schema)]
    assert not stale, f"schemas/ is out of date for {stale}: run `cim-twin schemas schemas`"


def test_schemas_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cim_twin.cli.main import main

    assert main(["schemas", "--check", str(SCHEMAS)]) == 0
    assert main(["schemas", str(tmp_path)]) == 0
    (tmp_path / "problem_point.schema.json").write_text("{}")
    assert main(["schemas", "--check", str(tmp_path)]) == 1
    assert "problem_point.schema.json: out of date" in capsys.readouterr().out


def test_model_output_validates_against_the_schemas() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    finding = ProblemPoint(
        id=problem_id("X-TALL", "b1", "2025"), key="X-TALL|b1", indicator="X-TALL", severity=Severity.HIGH,
        score=0.8, value=24.0, threshold=10.0, unit="m", x=1.0, y=2.0, z=3.0, lon=117.0, lat=27.0, height=3.0,
        object_ids=("b1",), unit_id="D01-B01-C01", period="2025", observed_at=t0, valid_from=t0,
        valid_to=datetime(2026, 1, 1, tzinfo=UTC), evidence={"storeys": 8},
    )
    run = CheckRun(id="2025-20250101T000000Z-abcdef12", scope="x", period="2025", started_at=t0,
                   software_version="0.1.0", inputs={"city.gml": "sha256:" + "0" * 64},
                   indicators={"X-TALL": IndicatorRunStatus(status="ok", findings=1)})
    measurement = Measurement(indicator="X-TALL", unit_id="C01", level="community", period="2025", value=1.0,
                              unit="m")
    for model, value in ((ProblemPoint, finding), (CheckRun, run), (Measurement, measurement)):
        name = next(n for n, m in SCHEMA_MODELS.items() if m is model)
        schema = loads((SCHEMAS / name).read_bytes())
        jsonschema.Draft202012Validator(schema).validate(loads(dumps_pretty(value.model_dump(mode="json"))))
    with pytest.raises(jsonschema.ValidationError):
        bad = finding.model_dump(mode="json") | {"severity": "catastrophic"}
        jsonschema.Draft202012Validator(loads((SCHEMAS / "problem_point.schema.json").read_bytes())).validate(bad)


def test_project_file_schema_accepts_the_documented_example() -> None:
    import re
    import tomllib

    jsonschema = pytest.importorskip("jsonschema")
    schema = loads((SCHEMAS / "twin_toml.schema.json").read_bytes())
    doc = (SCHEMAS.parent / "docs" / "project-file.md").read_text(encoding="utf-8")
    example = tomllib.loads(re.search(r"```toml\n(.*?)```", doc, flags=re.S).group(1))
    jsonschema.Draft202012Validator(schema).validate(example)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({"layers": {"poi": {"kind": "poi"}}})  # no path
