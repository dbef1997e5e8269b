"""The value models: frozen, timezone-aware, deterministic ids, validated values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from cim_twin.model import (
    CATEGORIES,
    IndicatorSpec,
    Measurement,
    Period,
    ProblemPoint,
    Severity,
    Status,
    Threshold,
    problem_id,
)

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def finding(**kw: object) -> ProblemPoint:
    base: dict[str, object] = dict(id=problem_id("X", "b1", "2025"), key="X|b1", indicator="X", severity="high",
                                   score=0.8, x=0.0, y=0.0, z=0.0, period="2025", observed_at=T0, valid_from=T0)
    return ProblemPoint(**(base | kw))


def test_problem_ids_are_deterministic_per_indicator_subject_and_period() -> None:
    a = problem_id("N-PARK-COVER", "bldg_17", "2025")
    assert a == problem_id("N-PARK-COVER", "bldg_17", "2025")
    assert a.startswith("N-PARK-COVER:") and len(a) == len("N-PARK-COVER:") + 16
    assert len({a, problem_id("N-PARK-COVER", "bldg_17", "2024"), problem_id("N-PARK-COVER", "bldg_18", "2025"),
                problem_id("N-FIRE-5MIN", "bldg_17", "2025")}) == 4
    # no collision by concatenation: ("a|b", "c") and ("a", "b|c") differ
    assert problem_id("a|b", "c", "2025") != problem_id("a", "b|c", "2025")


def test_severity_scores_rise() -> None:
    scores = [s.score for s in Severity]
    assert scores == sorted(scores) and scores[0] > 0 and scores[-1] == 1.0
    assert [s.value for s in Severity] == ["info", "low", "medium", "high", "critical"]
    assert [s.value for s in Status] == ["open", "planned", "in_progress", "resolved", "verified"]


def test_findings_are_frozen_and_timezone_aware() -> None:
    f = finding()
    with pytest.raises(ValidationError):
        f.value = 3.0  # type: ignore[misc]
    with pytest.raises(ValidationError, match="timezone"):
        finding(observed_at=datetime(2025, 6, 1))
    with pytest.raises(ValidationError, match="valid_to is before valid_from"):
        finding(valid_to=T0 - timedelta(days=1))
    with pytest.raises(ValidationError):
        finding(score=1.5)
    with pytest.raises(ValidationError):
        finding(severity="catastrophic")
    with pytest.raises(ValidationError):
        finding(colour="red")  # unknown fields are refused, not dropped


def test_round_trip_through_json() -> None:
    f = finding(lon=118.1, lat=27.3, height=12.5, object_ids=("a", "b"), evidence={"n": 3, "names": ["x"]},
                valid_to=T0 + timedelta(days=200))
    assert ProblemPoint.model_validate_json(f.model_dump_json()) == f
    m = Measurement(indicator="X", unit_id="C01", level="community", period="2025", value=0.83, unit="%",
                    numerator=83, denominator=100, threshold=0.9, passed=False)
    assert Measurement.model_validate_json(m.model_dump_json()) == m


def test_indicator_spec_validation() -> None:
    spec = IndicatorSpec(code="N-PARK-COVER", name_zh="公园绿地服务半径覆盖率", name_en="Park coverage",
                         category="生态宜居", level="community", unit="%",
                         thresholds={"default": Threshold(value=0.9, source="GB/T 51346-2019")})
    assert spec.category_en == "ecological livability" and spec.thresholds["default"].source.startswith("GB/T")
    assert len(CATEGORIES) == 8
    for bad in ({"category": "绿色"}, {"level": "province"}, {"code": "has space"}):
        with pytest.raises(ValidationError):
            IndicatorSpec(**(spec.model_dump() | bad))
    with pytest.raises(ValidationError):
        Threshold(value=1.0)  # a threshold always says where it comes from


def test_period_of_a_year_in_local_time() -> None:
    p = Period.year(2025, ZoneInfo("Asia/Shanghai"))
    assert p.label == "2025"
    assert p.start.astimezone(UTC) == datetime(2024, 12, 31, 16, tzinfo=UTC)
    assert p.end - p.start == timedelta(days=365)
