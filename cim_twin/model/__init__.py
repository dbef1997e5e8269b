"""Value models of a health check (pydantic 2, frozen): indicator specs, measurements, problem
points and check runs. JSON Schemas generated from them live in schemas/ (``cim-twin schemas``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CATEGORIES",
    "LEVELS",
    "SEVERITY_ZH",
    "CheckRun",
    "Direction",
    "IndicatorRunStatus",
    "IndicatorSpec",
    "Measurement",
    "Period",
    "ProblemPoint",
    "Severity",
    "Status",
    "Threshold",
    "problem_id",
]

#: The eight categories of the national urban health check indicator system.
CATEGORIES: tuple[str, ...] = ("生态宜居", "健康舒适", "安全韧性", "交通便捷", "风貌特色", "整洁有序", "多元包容", "创新活力")
CATEGORY_EN: dict[str, str] = {
    "生态宜居": "ecological livability",
    "健康舒适": "health and comfort",
    "安全韧性": "safety and resilience",
    "交通便捷": "convenient transport",
    "风貌特色": "townscape character",
    "整洁有序": "tidy and orderly",
    "多元包容": "diversity and inclusion",
    "创新活力": "innovation and vitality",
}
#: The four levels: 住房 building, 小区/社区 community, 街区 block, 城区/城市 district.
LEVELS: tuple[str, ...] = ("building", "community", "block", "district")
LEVEL_ZH: dict[str, str] = {"building": "住房", "community": "小区(社区)", "block": "街区", "district": "城区(城市)"}

Category = Literal["生态宜居", "健康舒适", "安全韧性", "交通便捷", "风貌特色", "整洁有序", "多元包容", "创新活力"]
Level = Literal["building", "community", "block", "district"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Direction(StrEnum):
    """Which way is better."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"
    IN_BAND = "in_band"
    COUNT = "count"  # every occurrence is a problem (e.g. waterlogging points)


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def score(self) -> float:
        """Default numeric score of the severity (0..1)."""
        return _SEVERITY_SCORE[self]

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    @property
    def label_zh(self) -> str:
        """The Chinese label every output uses (lists, reports, legends, viewer)."""
        return SEVERITY_ZH[self.value]


#: Chinese labels of the severities, shared by every output so that a list, a legend and the viewer
#: never name the same severity differently.
SEVERITY_ZH: dict[str, str] = {"info": "提示", "low": "轻微", "medium": "一般", "high": "较重", "critical": "严重"}

_SEVERITY_SCORE = {
    Severity.INFO: 0.1,
    Severity.LOW: 0.3,
    Severity.MEDIUM: 0.5,
    Severity.HIGH: 0.8,
    Severity.CRITICAL: 1.0,
}


class Status(StrEnum):
    """Life of a problem: found, planned into a project, being fixed, fixed, checked fixed."""

    OPEN = "open"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"


class Threshold(_Frozen):
    """A threshold with where it comes from."""

    value: float | None = None
    low: float | None = Field(default=None, description="lower bound of a band")
    high: float | None = Field(default=None, description="upper bound of a band")
    unit: str | None = None
    source: str = Field(description='standard or document it comes from, or "local choice"')


class Period(_Frozen):
    """The period a run or finding refers to, e.g. the year 2024."""

    label: str = Field(description='e.g. "2024"')
    start: AwareDatetime
    end: AwareDatetime

    @classmethod
    def year(cls, year: int, tz: Any = None) -> Period:
        tz = tz or UTC
        return cls(label=str(year), start=datetime(year, 1, 1, tzinfo=tz), end=datetime(year + 1, 1, 1, tzinfo=tz))


class IndicatorSpec(_Frozen):
    """What an indicator is: code, names, category, level, unit, direction, thresholds, data."""

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", description="unique code, e.g. N-PARK-COVER")
    name_zh: str
    name_en: str
    category: Category
    level: Level
    unit: str = Field(description='unit of the value, e.g. "%", "m", "beds/1000", "km/km2"')
    direction: Direction = Direction.HIGHER_IS_BETTER
    thresholds: dict[str, Threshold] = Field(default_factory=dict, description="named thresholds, 'default' first")
    data_needed: tuple[str, ...] = Field(default=(), description="auxiliary layers or attributes it reads")
    cycle: Literal["annual", "triennial", "continuous"] = "annual"
    national: bool = Field(default=False, description="part of the national indicator set (else local)")
    description_en: str = ""
    description_zh: str = ""

    @property
    def category_en(self) -> str:
        return CATEGORY_EN[self.category]


class Measurement(_Frozen):
    """The value of an indicator for one spatial unit and period (e.g. park coverage of community
    C in 2024 = 0.83)."""

    indicator: str
    unit_id: str = Field(description="spatial unit id (community, block, district) or 'city'")
    level: Level
    period: str
    value: float | None
    unit: str
    numerator: float | None = None
    denominator: float | None = None
    threshold: float | None = None
    passed: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def problem_id(indicator: str, subject: str, period: str) -> str:
    """Deterministic finding id: the same indicator, object (or unit) and period give the same id,
    so next year's run can be matched with this one's by ``indicator + subject`` alone."""
    digest = hashlib.sha1(f"{indicator}\x1f{subject}\x1f{period}".encode()).hexdigest()[:16]
    return f"{indicator}:{digest}"


class ProblemPoint(_Frozen):
    """A problem found by a check, pinned in space and time (问题落图)."""

    id: str = Field(description="deterministic: indicator + object/unit + period, see problem_id()")
    key: str = Field(description="indicator + object/unit without the period: stable across years")
    indicator: str
    severity: Severity
    score: float = Field(ge=0.0, le=1.0)
    value: float | None = None
    threshold: float | None = None
    unit: str | None = None
    x: float
    y: float
    z: float
    lon: float | None = None
    lat: float | None = None
    height: float | None = Field(
        default=None,
        description="height (m) with lon/lat: ellipsoidal where the scene's vertical datum can be "
        "transformed, else the scene height as given (the run's notes say which)",
    )
    object_ids: tuple[str, ...] = ()
    unit_id: str | None = Field(default=None, description="spatial unit (community/block/district)")
    period: str
    observed_at: AwareDatetime
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    status: Status = Status.OPEN
    message_zh: str = ""
    message_en: str = ""
    source: str = Field(default="model", description="model | survey | public_report | sensor | ...")
    evidence: dict[str, Any] = Field(default_factory=dict)

    @field_validator("valid_to")
    @classmethod
    def _ordered(cls, v: datetime | None, info: Any) -> datetime | None:
        start = info.data.get("valid_from")
        if v is not None and start is not None and v < start:
            raise ValueError("valid_to is before valid_from")
        return v


class IndicatorRunStatus(_Frozen):
    """How one indicator fared in a run."""

    status: Literal["ok", "failed", "timeout", "skipped"]
    findings: int = 0
    measurements: int = 0
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None


class CheckRun(_Frozen):
    """One health-check run: what was checked, when, with what, and how each indicator fared."""

    id: str
    scope: str = Field(description="project or area name")
    period: str
    profile: str = "default"
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    software_version: str
    inputs: dict[str, str] = Field(default_factory=dict, description="input path -> sha256 fingerprint")
    indicators: dict[str, IndicatorRunStatus] = Field(default_factory=dict)
    crs: str | None = None
    status: Literal["ok", "completed_with_failures", "failed"] = "ok"
    notes: Annotated[str, Field(default="")] = ""
    plugins: dict[str, str] = Field(default_factory=dict, description="loaded plugin name -> version")
    warnings: tuple[str, ...] = Field(default=(), description="load and indicator warnings of the run")
