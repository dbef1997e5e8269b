"""Three generated annual runs (2023, 2024, 2025) of a small district, built directly as models.

District D01 has two blocks. Block B01 holds old housing b01..b06 (b03 a D-level dangerous house,
b02 protected) plus b07..b09 without problems; block B02 a community short of park area, a toilet
gap and, from 2024, a waterlogging point.

* 2023: old housing b01..b06, danger b03, park deficit (0.60) in D01-B02-C01, toilet gap.
* 2024: b01..b03 renovated (gone), b03's danger gone; b04, b05 persist, b05 worse (severity up);
  b06 was re-surveyed under the new id b06n at the same place (matched by position); park 0.70
  (improved, still a finding); toilet gap persists; new waterlogging point.
* 2025: all old housing gone, park 0.85 (resolved), toilet gap persists, waterlogging gone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cim_twin.catalog import Catalog
from cim_twin.model import (
    CheckRun,
    Direction,
    IndicatorRunStatus,
    IndicatorSpec,
    Measurement,
    ProblemPoint,
    Threshold,
    problem_id,
)

ORIGIN = (500000.0, 2988000.0)  # EPSG:4548, about 117.0E 27.0N
CRS = "EPSG:4548"

SPECS = [
    IndicatorSpec(code="T-OLD-HOUSING", name_zh="老旧住房", name_en="Old housing", category="安全韧性",
                  level="building", unit="year", direction=Direction.COUNT,
                  thresholds={"default": Threshold(value=2000, source="国办发〔2020〕23号")}),
    IndicatorSpec(code="T-DANGER", name_zh="危房", name_en="Dangerous housing", category="安全韧性",
                  level="building", unit="level", direction=Direction.LOWER_IS_BETTER,
                  thresholds={"default": Threshold(value=2, source="local choice")}),
    IndicatorSpec(code="T-PARK-COVER", name_zh="公园绿地服务半径覆盖率", name_en="Park coverage", category="生态宜居",
                  level="community", unit="ratio", direction=Direction.HIGHER_IS_BETTER,
                  thresholds={"default": Threshold(value=0.8, source="GB 50180-2018")}),
    IndicatorSpec(code="T-TOILET", name_zh="公厕缺口", name_en="Public toilet gap", category="整洁有序",
                  level="block", unit="count", direction=Direction.COUNT,
                  thresholds={"default": Threshold(value=0, source="local choice")}),
    IndicatorSpec(code="T-WATERLOG", name_zh="易涝点", name_en="Waterlogging points", category="安全韧性",
                  level="block", unit="count", direction=Direction.COUNT,
                  thresholds={"default": Threshold(value=0, source="local choice")}),
]  # fmt: skip

# building id -> (x, y) offset from ORIGIN (m), block
BUILDINGS = {
    "b01": (0, 0), "b02": (20, 0), "b03": (40, 0), "b04": (0, 25), "b05": (20, 25), "b06": (40, 25),
    "b07": (60, 0), "b08": (60, 25), "b09": (80, 0),
}  # fmt: skip
BUILDING_FACTS = {
    "b01": {"year_built": 1985}, "b02": {"year_built": 1978, "protected": 1}, "b03": {"year_built": 1980, "danger_level": "D"},
    "b04": {"year_built": 1990}, "b05": {"year_built": 1992, "danger_level": "C"}, "b06": {"year_built": 1995},
    "b07": {"year_built": 2010}, "b08": {"year_built": 2012, "illegal": 1}, "b09": {"year_built": 2015},
}  # fmt: skip
PARK_AT = (600.0, 400.0)
TOILET_AT = (640.0, 420.0)
WATERLOG_AT = (900.0, 900.0)


def _t(year: int) -> datetime:
    return datetime(year, 6, 30, tzinfo=UTC)


def finding(code: str, subject: str, year: int, x: float, y: float, *, severity: str = "medium",
            value: float | None = None, threshold: float | None = None, unit_id: str = "D01-B01-C01",
            objects: tuple[str, ...] = (), evidence: dict[str, Any] | None = None) -> ProblemPoint:  # fmt: skip
    from cim_twin.model import Severity

    return ProblemPoint(
        id=problem_id(code, subject, str(year)), key=f"{code}:{subject}", indicator=code, severity=severity,
        score=Severity(severity).score, value=value, threshold=threshold, x=ORIGIN[0] + x, y=ORIGIN[1] + y, z=10.0,
        object_ids=objects, unit_id=unit_id, period=str(year), observed_at=_t(year),
        valid_from=datetime(year, 1, 1, tzinfo=UTC), message_zh=f"{code} {subject}",
        message_en=f"{code} at {subject}", evidence=evidence or {},
    )  # fmt: skip


def old_housing(bid: str, year: int, *, severity: str = "medium", at: str | None = None) -> ProblemPoint:
    x, y = BUILDINGS[at or bid]
    facts = BUILDING_FACTS.get(at or bid, {})
    return finding("T-OLD-HOUSING", bid, year, x + 5, y + 5, severity=severity, value=facts.get("year_built"),
                   threshold=2000, objects=(bid,), evidence=dict(facts))  # fmt: skip


def run_of(year: int) -> CheckRun:
    return CheckRun(
        id=f"run-{year}", scope="示例城区", period=str(year), profile="nanping", started_at=_t(year),
        finished_at=_t(year), software_version="test", crs=CRS,
        indicators={s.code: IndicatorRunStatus(status="ok") for s in SPECS},
    )  # fmt: skip


def year_2023() -> tuple[CheckRun, list[ProblemPoint], list[Measurement]]:
    f = [old_housing(b, 2023) for b in ("b01", "b02", "b03", "b04", "b05", "b06")]
    x, y = BUILDINGS["b03"]
    f.append(finding("T-DANGER", "b03", 2023, x + 5, y + 5, severity="critical", value=4, threshold=2,
                     objects=("b03",), evidence={"danger_level": "D", "year_built": 1980}))  # fmt: skip
    f.append(finding("T-PARK-COVER", "D01-B02-C01", 2023, *PARK_AT, severity="high", value=0.60, threshold=0.8,
                     unit_id="D01-B02-C01"))  # fmt: skip
    f.append(finding("T-TOILET", "D01-B02", 2023, *TOILET_AT, severity="low", value=1, threshold=0, unit_id="D01-B02"))
    return run_of(2023), f, _measurements(2023, park=0.60, old=6, toilet=1, water=0)


def year_2024() -> tuple[CheckRun, list[ProblemPoint], list[Measurement]]:
    f = [old_housing("b04", 2024), old_housing("b05", 2024, severity="high"), old_housing("b06n", 2024, at="b06")]
    f.append(finding("T-PARK-COVER", "D01-B02-C01", 2024, *PARK_AT, severity="high", value=0.70, threshold=0.8,
                     unit_id="D01-B02-C01"))  # fmt: skip
    f.append(finding("T-TOILET", "D01-B02", 2024, *TOILET_AT, severity="low", value=1, threshold=0, unit_id="D01-B02"))
    f.append(finding("T-WATERLOG", "W17", 2024, *WATERLOG_AT, severity="high", value=35, threshold=0,
                     unit_id="D01-B02-C02"))  # fmt: skip
    return run_of(2024), f, _measurements(2024, park=0.70, old=3, toilet=1, water=1)


def year_2025() -> tuple[CheckRun, list[ProblemPoint], list[Measurement]]:
    f = [finding("T-TOILET", "D01-B02", 2025, *TOILET_AT, severity="low", value=1, threshold=0, unit_id="D01-B02")]
    return run_of(2025), f, _measurements(2025, park=0.85, old=0, toilet=1, water=0)


def _measurements(year: int, *, park: float, old: int, toilet: int, water: int) -> list[Measurement]:
    p = str(year)
    return [
        Measurement(indicator="T-PARK-COVER", unit_id="D01-B02-C01", level="community", period=p, value=park,
                    unit="ratio", threshold=0.8, passed=park >= 0.8),
        Measurement(indicator="T-PARK-COVER", unit_id="D01", level="district", period=p, value=park + 0.1,
                    unit="ratio", threshold=0.8, passed=park + 0.1 >= 0.8),
        Measurement(indicator="T-OLD-HOUSING", unit_id="D01-B01", level="block", period=p, value=float(old),
                    unit="count", threshold=0, passed=old == 0),
        Measurement(indicator="T-TOILET", unit_id="D01-B02", level="block", period=p, value=float(toilet),
                    unit="count", threshold=0, passed=toilet == 0),
        Measurement(indicator="T-WATERLOG", unit_id="D01-B02", level="block", period=p, value=float(water),
                    unit="count", threshold=0, passed=water == 0),
    ]  # fmt: skip


YEARS = {2023: year_2023, 2024: year_2024, 2025: year_2025}


def write_year(catalog: Catalog, year: int) -> str:
    run, findings, measurements = YEARS[year]()
    catalog.write_run(run, findings, measurements, specs=SPECS)
    return run.id


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    return tmp_path / "catalog.gpkg"


@pytest.fixture
def catalog(catalog_path: Path) -> Any:
    cat = Catalog.open(catalog_path)
    yield cat
    cat.close()


@pytest.fixture
def three_years(catalog: Catalog) -> Catalog:
    for year in YEARS:
        write_year(catalog, year)
    return catalog


def scene_of(year: int) -> Any:
    """The district's buildings in a year (box models with the facts as generic attributes)."""
    from cim_twin.testing import box_building, make_scene

    ids = list(BUILDINGS)
    if year >= 2024:
        ids = ["b06n" if b == "b06" else b for b in ids if b != "b03"]  # b03 demolished, b06 re-surveyed
    objects = []
    for bid in ids:
        x, y = BUILDINGS["b06" if bid == "b06n" else bid]
        facts = dict(BUILDING_FACTS.get("b06" if bid == "b06n" else bid, {}))
        year_built = facts.pop("year_built", None)
        height = 12.0 if not (year >= 2024 and bid == "b01") else 18.0  # b01 got two storeys added
        objects.append(box_building(bid, x, y, height=height, year_built=year_built, measured_height=True,
                                    community_id="D01-B01-C01", **facts))  # fmt: skip
    if year >= 2025:
        objects.append(box_building("b10", 200, 200, height=30.0, year_built=2024, measured_height=True))
    return make_scene(objects)
