"""留改拆 (retain / renovate / demolish): a recommended action for each building of a project area.

Rules are tried in order and the first whose conditions hold decides; each rule holds when *any*
of its conditions does. A condition is ``NAME``, ``NAME OP VALUE`` or ``NAME in A,B``:

* building facts: ``protected``, ``historic``, ``illegal`` (true when set to 1/true/yes/是),
  ``danger_level`` (A-D, 危房等级), ``year_built``, ``height_m``, ``storeys``, ``structure``, any
  other attribute of the building by name;
* from the building's findings: ``findings`` (how many concern the building itself: indicators at
  building level or of the categories 安全韧性 and 风貌特色 — a school out of reach is no reason to
  renovate a house), ``all_findings`` (every finding naming the building), ``severity`` (highest of
  its own findings, compared by rank: ``severity >= high``), ``finding:CODE`` (has a finding of
  indicator CODE).

Default rules (a project file can replace them, see docs/catalog.md)::

    retain    protected | historic                                  受保护或历史建筑
    demolish  danger_level == D | illegal                           D级危房或违法建设
    renovate  danger_level in B,C | year_built <= 2000 | findings >= 1   老旧、存在隐患或指标超限
    retain    (always)                                              未发现问题
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import ConfigError
from ..model import Severity

__all__ = [
    "ACTION_ZH",
    "DEFAULT_RULES",
    "OWN_FINDING_CATEGORIES",
    "ActionRule",
    "BuildingAction",
    "BuildingFacts",
    "facts_from_attributes",
    "facts_from_object",
    "recommend",
    "rules_from_config",
]

ACTION_ZH = {"retain": "留", "renovate": "改", "demolish": "拆"}
ACTION_ZH_LONG = {"retain": "保留", "renovate": "改造", "demolish": "拆除"}

#: Attribute names (CityGML generic attributes as real data spell them) for each fact.
ATTRIBUTE_ALIASES: dict[str, tuple[str, ...]] = {
    "danger_level": ("danger_level", "危房等级", "dangerLevel", "danger"),
    "protected": ("protected", "保护建筑", "is_protected", "heritage_protected", "文保"),
    "historic": ("historic", "历史建筑", "heritage", "is_historic"),
    "illegal": ("illegal", "违法建设", "违建", "is_illegal"),
    "structure": ("structure", "结构", "structure_type"),
}
_TRUE = {"1", "true", "yes", "y", "是", "t"}
#: Categories whose findings on a building concern the building itself (its safety, its height or
#: townscape), besides every building-level indicator; the others (services out of reach, green
#: space) are deficits of the area that a building's 留改拆 does not answer.
OWN_FINDING_CATEGORIES = frozenset({"安全韧性", "风貌特色"})
_CONDITION = re.compile(r"^\s*(?P<name>[^\s<>=!]+)\s*(?:(?P<op>==|!=|<=|>=|<|>|\bin\b)\s*(?P<value>.+?))?\s*$")
_SEVERITY_RANK = {s.value: s.rank for s in Severity}


@dataclass(frozen=True)
class ActionRule:
    """One rule: the action, the conditions (any of them) and the reason given."""

    name: str
    action: str
    when: tuple[str, ...]
    reason_zh: str
    reason_en: str

    def __post_init__(self) -> None:
        if self.action not in ACTION_ZH:
            raise ConfigError(f"rule {self.name!r}: unknown action {self.action!r}",
                              hint="use retain, renovate or demolish")  # fmt: skip
        for cond in self.when:
            if not _CONDITION.match(cond):
                raise ConfigError(f"rule {self.name!r}: cannot read condition {cond!r}",
                                  hint='write e.g. "danger_level == D", "year_built <= 2000" or "protected"')  # fmt: skip


DEFAULT_RULES: tuple[ActionRule, ...] = (
    ActionRule("protected", "retain", ("protected", "historic"),
               "受保护或历史建筑，保留并按保护要求修缮", "protected or historic building: retain and repair as required"),
    ActionRule("dangerous_or_illegal", "demolish", ("danger_level == D", "illegal"),
               "D级危房或违法建设，建议拆除", "danger level D or illegal structure: demolish"),
    ActionRule("old_unsafe_or_over_limit", "renovate", ("danger_level in B,C", "year_built <= 2000", "findings >= 1"),
               "建成年代久、存在安全隐患或指标超限，建议改造提升", "old, unsafe or over limits: renovate"),
    ActionRule("default", "retain", (), "未发现需处理的问题，保留", "no problem found: retain"),
)  # fmt: skip


@dataclass
class BuildingFacts:
    """What the rules look at for one building."""

    id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    finding_codes: list[str] = field(default_factory=list)
    max_severity: str | None = None
    #: The codes of the findings that concern the building itself (see the module docstring).
    own_finding_codes: list[str] = field(default_factory=list)

    def value(self, name: str) -> Any:
        if name == "findings":
            return len(self.own_finding_codes)
        if name == "all_findings":
            return len(self.finding_codes)
        if name == "severity":
            return self.max_severity
        return self.attributes.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in sorted(self.attributes.items()) if v is not None},
                "findings": sorted(set(self.finding_codes)), "own_findings": sorted(set(self.own_finding_codes)),
                "max_severity": self.max_severity}  # fmt: skip


@dataclass(frozen=True)
class BuildingAction:
    """The recommendation for one building."""

    building_id: str
    action: str
    rule: str
    reason_zh: str
    reason_en: str
    facts: dict[str, Any]

    @property
    def action_zh(self) -> str:
        return ACTION_ZH[self.action]


def _normalise(name: str, value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "value") and not isinstance(value, (str, bytes)):  # a Measure
        value = value.value
    if name in ("protected", "historic", "illegal"):
        return str(value).strip().lower() in _TRUE if not isinstance(value, bool) else value
    if name == "danger_level":
        text = str(value).strip().upper().replace("级", "").replace("LEVEL", "").strip()
        return text or None
    return value


def facts_from_object(obj: Any, finding_codes: Sequence[str] = (), severities: Sequence[str] = (),
                      own: Sequence[bool] | None = None) -> BuildingFacts:  # fmt: skip
    """Facts of a scene :class:`~cim_twin.scene.CityObject` plus the codes and severities of its
    findings; ``own`` flags the findings that concern the building itself (all when None)."""
    attributes: dict[str, Any] = {}
    for fact, names in ATTRIBUTE_ALIASES.items():
        for name in names:
            value = obj.get(name)
            if value is not None:
                attributes[fact] = _normalise(fact, value)
                break
    attributes["year_built"] = obj.year_built
    height = obj.height_m
    attributes["height_m"] = None if height is None else round(float(height), 2)
    attributes["storeys"] = obj.storeys
    attributes["function"] = obj.function
    for name, value in {**obj.generic_attributes}.items():
        attributes.setdefault(name, value if isinstance(value, (str, int, float, bool)) else str(value))
    return facts_from_attributes(obj.id, attributes, finding_codes, severities, own)


def facts_from_evidence(building_id: str, evidence: Iterable[Mapping[str, Any]], finding_codes: Sequence[str] = (),
                        severities: Sequence[str] = (), own: Sequence[bool] | None = None) -> BuildingFacts:  # fmt: skip
    """Facts when the model is not at hand: what the findings' evidence recorded of the building."""
    attributes: dict[str, Any] = {}
    for ev in evidence:
        for fact, names in ATTRIBUTE_ALIASES.items():
            for name in names:
                if name in ev and fact not in attributes:
                    attributes[fact] = _normalise(fact, ev[name])
        for name in ("year_built", "yearOfConstruction", "height_m", "storeys"):
            if name in ev and ev[name] is not None:
                attributes.setdefault("year_built" if name == "yearOfConstruction" else name, ev[name])
    return facts_from_attributes(building_id, attributes, finding_codes, severities, own)


def facts_from_attributes(building_id: str, attributes: dict[str, Any], codes: Sequence[str] = (),
                          severities: Sequence[str] = (), own: Sequence[bool] | None = None) -> BuildingFacts:  # fmt: skip
    """Facts from stored attributes (as :func:`facts_from_object` collects them) and findings."""
    flags = [True] * len(codes) if own is None else list(own)
    own_codes = [c for c, mine in zip(codes, flags, strict=True) if mine]
    own_severities = [s for s, mine in zip(severities, flags, strict=True) if mine]
    return BuildingFacts(building_id, attributes, list(codes), _max_severity(own_severities), own_codes)


def concerns_building(spec: Any) -> bool:
    """Whether an indicator's findings on a building concern the building itself (building level,
    or a category of :data:`OWN_FINDING_CATEGORIES`); True for an unknown indicator."""
    if spec is None:
        return True
    return getattr(spec, "level", None) == "building" or getattr(spec, "category", None) in OWN_FINDING_CATEGORIES


def _max_severity(severities: Sequence[str]) -> str | None:
    known = [s for s in severities if s in _SEVERITY_RANK]
    return max(known, key=_SEVERITY_RANK.__getitem__) if known else None


@lru_cache(maxsize=512)
def _parse(condition: str) -> tuple[str, str | None, str] | None:
    m = _CONDITION.match(condition)
    return None if m is None else (m["name"], m["op"], m["value"] or "")


def _holds(condition: str, facts: BuildingFacts) -> bool:
    parsed = _parse(condition)
    if parsed is None:
        return False
    name, op, raw = parsed
    if name.startswith("finding:"):
        return name.split(":", 1)[1] in facts.finding_codes
    actual = facts.value(name)
    if op is None:
        return bool(actual) and str(actual).strip().lower() not in ("0", "false", "no", "否")
    if actual is None:
        return False
    if op == "in":
        options = {v.strip().upper() for v in raw.split(",")}
        return str(actual).strip().upper() in options
    left: Any
    right: Any
    if name == "severity":
        left, right = _SEVERITY_RANK.get(str(actual), -1), _SEVERITY_RANK.get(raw.strip(), -1)
    else:
        try:
            left, right = float(actual), float(raw)
        except (TypeError, ValueError):
            left, right = str(actual).strip().upper(), raw.strip().upper()
    try:
        return {
            "==": left == right, "!=": left != right, "<": left < right,
            "<=": left <= right, ">": left > right, ">=": left >= right,
        }[op]  # fmt: skip
    except TypeError:
        return False


def recommend(facts: BuildingFacts, rules: Sequence[ActionRule] = DEFAULT_RULES) -> BuildingAction:
    """The first rule that holds decides; the reason names the condition that held."""
    for rule in rules:
        held = [c for c in rule.when if _holds(c, facts)]
        if rule.when and not held:
            continue
        because = f"（{held[0]}）" if held else ""
        return BuildingAction(
            facts.id, rule.action, rule.name, rule.reason_zh + because,
            rule.reason_en + (f" ({held[0]})" if held else ""), facts.to_dict(),
        )  # fmt: skip
    return BuildingAction(facts.id, "retain", "none", "无适用规则，保留", "no rule applies: retain", facts.to_dict())


def rules_from_config(config: Mapping[str, Any] | None, *, source: str | None = None) -> tuple[ActionRule, ...]:
    """Rules from the ``[actions]`` table of a project file (``[[actions.rules]]`` entries with
    name, action, when, reason_zh, reason_en); the defaults when there are none."""
    if not config or not config.get("rules"):
        return DEFAULT_RULES
    rules = []
    for k, entry in enumerate(config["rules"]):
        if not isinstance(entry, Mapping) or "action" not in entry:
            raise ConfigError(f"actions.rules[{k}] needs an action", path=source,
                              hint='e.g. { action = "demolish", when = ["danger_level == D"] }')  # fmt: skip
        when = entry.get("when", ())
        rules.append(ActionRule(
            name=str(entry.get("name", f"rule{k + 1}")), action=str(entry["action"]),
            when=(when,) if isinstance(when, str) else tuple(str(w) for w in when),
            reason_zh=str(entry.get("reason_zh", ACTION_ZH_LONG.get(str(entry["action"]), ""))),
            reason_en=str(entry.get("reason_en", entry["action"])),
        ))  # fmt: skip
    if rules[-1].when:
        rules.append(DEFAULT_RULES[-1])
    return tuple(rules)
