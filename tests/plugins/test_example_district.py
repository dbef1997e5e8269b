"""All indicators through the real plugin host (entry points) on a small generated district, and
the example district's auxiliary layers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cim_twin_plugins import PLUGIN_MODULES
from cim_twin_plugins.catalogue import first_party_indicators

from cim_twin.example_city import generate
from cim_twin.indicators.host import get_host
from cim_twin.indicators.runner import run_check
from cim_twin.project import Project


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("district")
    generate(out, buildings=300, seed=5, years=(2023, 2025))
    return out


@pytest.fixture(scope="module")
def runs(district: Path):
    project = Project.load(district / "twin.toml")
    return {year: run_check(project, period=year, write=False, catalog=False) for year in (2023, 2025)}


def test_plugins_found_through_entry_points():
    host = get_host()
    for name, module in PLUGIN_MODULES.items():
        info = host.plugins[name]
        assert info.status == "loaded" and info.module == module and info.origin.startswith("entry point")
    codes = {ind.spec.code for _, ind in first_party_indicators()}
    assert codes <= set(host.indicators)


def test_every_indicator_runs_and_finds_the_planted_problems(runs):
    codes = {ind.spec.code for _, ind in first_party_indicators()}
    for year, result in runs.items():
        assert result.run.status == "ok", year
        status = result.run.indicators
        assert codes <= set(status) and all(status[c].status == "ok" for c in codes), {c: status[c] for c in codes}
    found = {c: [f for f in runs[2023].findings if f.indicator == c] for c in codes}
    for code in ("N-PARK-COVER", "N-ELDERLY-CARE-COVER", "L-NURSING-BEDS", "L-OLD-HOUSING", "L-STREET-HW", "L-GREEN-VIEW",
                 "L-SIDEWALK-WIDTH", "N-WATERLOGGING", "L-PUBLIC-VITALITY", "L-REPORTED", "N-NEW-RES-80M"):
        assert found[code], f"no finding of {code} in the example district"
    # findings are placed: unit, lon/lat, messages in both languages
    for f in runs[2023].findings:
        assert f.message_zh and f.message_en and f.lon is not None and f.lat is not None
    # every measured community has a value for the coverage indicators
    measured = {(m.level, m.unit_id) for m in runs[2023].measurements if m.indicator == "N-PARK-COVER"}
    assert ("district", "D01") in measured
    assert all(u.count("-") == 2 for level, u in measured if level == "community")
    sources = {f.source for f in found["L-REPORTED"]}
    assert sources == {"survey", "public_report"}


def test_problems_get_fixed_over_the_years(runs):
    def keys(year: int, code: str) -> set[str]:
        return {f.key for f in runs[year].findings if f.indicator == code}

    # new care stations and a new park in 2025; the nursing home of 2025 closes the bed gap
    assert len(keys(2025, "N-ELDERLY-CARE-COVER")) < len(keys(2023, "N-ELDERLY-CARE-COVER"))
    assert len(keys(2025, "N-PARK-COVER")) < len(keys(2023, "N-PARK-COVER"))
    assert keys(2023, "L-NURSING-BEDS") and not keys(2025, "L-NURSING-BEDS")
    # the waterlogging site fixed by the 2024 drainage works is gone, the recurring ones stay
    water_23, water_25 = keys(2023, "N-WATERLOGGING"), keys(2025, "N-WATERLOGGING")
    assert water_23 - water_25 and water_23 & water_25
    # persisting problems keep their key (old houses on the check list)
    assert keys(2023, "L-OLD-HOUSING") & keys(2025, "L-OLD-HOUSING")


def test_layers_follow_the_contract(district: Path):
    layers = district / "layers"
    poi = json.loads((layers / "2025" / "poi.geojson").read_text(encoding="utf-8"))
    types = {f["properties"]["type"] for f in poi["features"]}
    assert {"elderly_care", "nursing_home", "kindergarten", "primary_school", "toilet", "fire_station"} <= types
    homes = [f["properties"] for f in poi["features"] if f["properties"]["type"] == "nursing_home"]
    assert all(h["nursing_beds"] <= h["beds"] for h in homes)
    with open(layers / "2025" / "population.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and set(rows[0]) == {"building_id", "residents", "elderly"}
    assert all(int(r["elderly"]) <= int(r["residents"]) for r in rows)
    sv = json.loads((layers / "2025" / "streetview.geojson").read_text(encoding="utf-8"))["features"]
    photos = [f["properties"]["photo"] for f in sv if f["properties"].get("photo")]
    assert photos and all((layers / "2025" / p).is_file() for p in photos)
    full = [f["properties"] for f in sv if f["properties"].get("green") is not None]
    assert all(abs(sum(p[k] for k in ("green", "sky", "building", "road", "sidewalk", "vehicle", "person")) - 1) < 0.02 for p in full)
    with open(layers / "2025" / "heatmap.csv", encoding="utf-8") as fh:
        heat = list(csv.DictReader(fh))
    assert set(heat[0]) == {"x", "y", "cell_m", "hour", "density"} and {int(r["hour"]) for r in heat} >= set(range(8, 23))
    water = json.loads((layers / "waterlogging.geojson").read_text(encoding="utf-8"))["features"]
    years = {f["properties"]["date"][:4] for f in water}
    assert {"2021", "2022", "2023", "2024", "2025"} <= years
    reports = json.loads((layers / "2025" / "reports.geojson").read_text(encoding="utf-8"))["features"]
    assert {f["properties"]["source"] for f in reports} == {"survey", "public"}
    assert all(f["properties"]["time"].startswith("2025-") for f in reports)
    toml = (district / "twin.toml").read_text(encoding="utf-8")
    assert 'crs = "GCJ-02"' in toml and 'kind = "incidents"' in toml


def test_layers_are_deterministic(tmp_path: Path, district: Path):
    generate(tmp_path, buildings=300, seed=5, years=(2023, 2025))
    for rel in ("2025/poi.geojson", "2025/parks.geojson", "2025/heatmap.csv", "2025/reports.geojson", "waterlogging.geojson",
                "2023/streetview.geojson", "2023/population.csv"):
        assert (tmp_path / "layers" / rel).read_bytes() == (district / "layers" / rel).read_bytes(), rel


@pytest.mark.slow
def test_fire_station_commissioned_in_2025_closes_the_gap(tmp_path: Path):
    """The 2,000-building example: until the newest district's station enters service, high-rise
    homes there lie beyond 5 minutes (high severity); in 2025 the gap is closed."""
    generate(tmp_path, buildings=2000, seed=1, years=(2023, 2025), lod2=False)
    project = Project.load(tmp_path / "twin.toml")
    before = run_check(project, period=2023, indicators=["N-FIRE-5MIN"], write=False, catalog=False)
    after = run_check(project, period=2025, indicators=["N-FIRE-5MIN"], write=False, catalog=False)
    high = [f for f in before.findings if f.severity.value == "high"]
    assert high and all("high-rise" in f.message_en.lower() and f.evidence["method"] == "network" for f in high)
    assert all(f.evidence["distance_m"] >= f.evidence["reach_m"] for f in before.findings if f.evidence["distance_m"])
    assert not after.findings
    assert min(m.value for m in before.measurements if m.level == "district") < 1.0
