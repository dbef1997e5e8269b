"""The check runner: isolation of failing and hanging indicators, placing of findings, run files."""

from __future__ import annotations

import gc
import os
import re
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from cim_twin.errors import ConfigError
from cim_twin.indicators.host import PluginHost
from cim_twin.indicators.runner import evaluate_indicator, fingerprint, run_check
from cim_twin.model import CheckRun, ProblemPoint, Threshold
from cim_twin.plugins import Indicator, IndicatorSpec, hookimpl
from cim_twin.project import Project
from cim_twin.serialization import loads
from cim_twin.testing import box_building, make_context, make_scene, units_layer

STOP = threading.Event()  # lets a hung *thread* end when the test is over


def _spec(code: str, **kw: Any) -> IndicatorSpec:
    return IndicatorSpec(code=code, name_en=code, name_zh=code, category="安全韧性", level="building", unit="m", **kw)


class Tall(Indicator):
    spec = _spec("T-TALL", thresholds={"default": Threshold(value=10.0, source="local choice")})

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        limit = ctx.threshold(self, "default")
        for b in ctx.buildings():
            if b.height_m > limit:
                yield ctx.problem(self, b, value=b.height_m, threshold=limit, severity="low")
        units = ctx.units("community")
        for uid in units.column("id"):
            ctx.measure(self, uid, 1.0, level="community")


class Raises(Indicator):
    spec = _spec("T-RAISES")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        yield from ()
        raise RuntimeError("the data is not what this indicator expected")


class Hangs(Indicator):
    spec = _spec("T-HANGS")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        while not STOP.is_set():
            time.sleep(0.01)
        return []


class Dies(Indicator):
    spec = _spec("T-DIES")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        os._exit(7)  # like a crash in a C extension


class NeedsPoi(Indicator):
    spec = _spec("T-POI")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        ctx.layer("poi", columns=["type"])
        return []


class YieldsJunk(Indicator):
    spec = _spec("T-JUNK")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        yield {"not": "a problem point"}


class Repeats(Indicator):
    spec = _spec("T-REPEAT")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        b = ctx.buildings()[0]
        yield ctx.problem(self, b, value=1.0)
        yield ctx.problem(self, b, value=2.0)
        ctx.measure(self, "C01", 1.0, level="community")
        ctx.measure(self, "C01", 2.0, level="community")


class Limit(Indicator):
    spec = _spec("T-LIMIT")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        limit = ctx.threshold(self, "default", 10.0)
        for b in ctx.buildings():
            if b.height_m > limit:
                yield ctx.problem(self, b, value=b.height_m, threshold=limit)


ALL = (Tall, Raises, Hangs, Dies, NeedsPoi, YieldsJunk, Repeats, Limit)


@pytest.fixture
def host() -> PluginHost:
    class Plugin:
        @hookimpl
        def register_indicators(self, register):  # type: ignore[no-untyped-def]
            for cls in ALL:
                register(cls())

    h = PluginHost()
    h.loaded = True
    h.register_plugin(Plugin(), name="test")
    return h


@pytest.fixture
def project(tmp_path: Path) -> Project:
    # A real GeoJSON units layer and a source file to fingerprint; the scene itself is built by hand.
    (tmp_path / "city_2025.gml").write_text("<CityModel/>")
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "communities.geojson").write_text(
        '{"type":"FeatureCollection","features":['
        '{"type":"Feature","properties":{"id":"C01","level":"community"},"geometry":{"type":"Polygon",'
        '"coordinates":[[[500000,2988000],[500100,2988000],[500100,2988100],[500000,2988100],[500000,2988000]]]}},'
        '{"type":"Feature","properties":{"id":"C02","level":"community"},"geometry":{"type":"Polygon",'
        '"coordinates":[[[500100,2988000],[500200,2988000],[500200,2988100],[500100,2988100],[500100,2988000]]]}}]}'
    )
    return Project.from_dict(
        {
            "project": {"name": "test", "period": 2025, "output": "out", "catalog": ""},
            "scene": {"sources": ["city_{period}.gml"]},
            "layers": {"communities": {"path": "layers/communities.geojson", "kind": "units", "crs": "EPSG:4548"}},
        },
        path=tmp_path / "twin.toml",
    )


@pytest.fixture
def scene():  # type: ignore[no-untyped-def]
    return make_scene([
        box_building("low", 10, 10, height=6),
        box_building("tall-a", 40, 10, height=25),
        box_building("tall-b", 140, 10, height=18),
    ])


@pytest.fixture(autouse=True)
def _stop_hung_threads():  # type: ignore[no-untyped-def]
    STOP.clear()
    yield
    STOP.set()


def test_failures_and_hangs_are_recorded_and_the_rest_completes(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    result = run_check(project, host=host, scene=scene, timeout_s=1.0, isolation="process")
    elapsed = time.monotonic() - start
    st = result.run.indicators
    assert st["T-TALL"].status == "ok" and st["T-TALL"].findings == 2 and st["T-TALL"].measurements == 2
    assert st["T-RAISES"].status == "failed"
    assert st["T-RAISES"].error == "RuntimeError: the data is not what this indicator expected"
    assert "Traceback" in st["T-RAISES"].traceback and "test_runner.py" in st["T-RAISES"].traceback
    assert st["T-HANGS"].status == "timeout" and "1 s" in st["T-HANGS"].error
    assert st["T-DIES"].status == "failed" and "exit status 7" in st["T-DIES"].error
    assert st["T-POI"].status == "skipped" and "no layer 'poi'" in st["T-POI"].error
    assert st["T-JUNK"].status == "failed" and "not a ProblemPoint" in st["T-JUNK"].error
    assert result.run.status == "completed_with_failures"
    assert elapsed < 8.0  # one timeout of 1 s plus forks; a hang never holds the run


def test_thread_isolation_records_the_hang_too(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    result = run_check(project, host=host, scene=scene, indicators=["T-TALL", "T-RAISES", "T-HANGS"],
                       timeout_s=0.5, isolation="thread", write=False)
    st = result.run.indicators
    assert (st["T-TALL"].status, st["T-RAISES"].status, st["T-HANGS"].status) == ("ok", "failed", "timeout")
    assert "thread left running" in st["T-HANGS"].error


def test_only_ok_and_skipped_is_ok(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    result = run_check(project, host=host, scene=scene, indicators=["T-TALL", "T-POI"], write=False)
    assert result.run.status == "ok" and not result.failed


def test_findings_are_placed_and_written(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    result = run_check(project, host=host, scene=scene, indicators=["T-TALL", "T-RAISES", "T-REPEAT"])
    by_object = {f.object_ids[0]: f for f in result.findings if f.indicator == "T-TALL"}
    assert by_object["tall-a"].unit_id == "C01" and by_object["tall-b"].unit_id == "C02"
    a = by_object["tall-a"]
    assert (a.x, a.y, a.z) == (500045.0, 2988015.0, 25.0)
    assert a.lon == pytest.approx(117.00046, abs=1e-4) and a.lat == pytest.approx(27.003, abs=2e-3)
    assert a.height == pytest.approx(25.0, abs=0.01)  # no geoid model: heights as given
    # the second problem with the same id from one indicator is dropped, with a warning
    assert sum(f.indicator == "T-REPEAT" for f in result.findings) == 1
    assert any("repeat an earlier id" in str(w) for w in result.warnings)
    assert [m.value for m in result.measurements if m.indicator == "T-REPEAT"] == [1.0]
    assert any("1 measurements of T-REPEAT repeat a unit" in str(w) for w in result.warnings)

    run_dir = result.run_dir
    assert run_dir == project.output_dir / "runs" / result.run.id
    run = CheckRun.model_validate(loads((run_dir / "run.json").read_bytes()))
    assert run == result.run
    assert run.crs == "EPSG:4548" and run.notes == "heights: unstated (heights taken as given)"
    assert run.inputs == {
        "city_2025.gml": fingerprint(project.root / "city_2025.gml"),
        "layers/communities.geojson": fingerprint(project.root / "layers" / "communities.geojson"),
    }
    findings = [ProblemPoint.model_validate(f) for f in loads((run_dir / "findings.json").read_bytes())]
    assert findings == result.findings
    assert len(loads((run_dir / "measurements.json").read_bytes())) == 3
    assert not list(run_dir.glob(".*.tmp"))
    geo = loads((run_dir / "findings.geojson").read_bytes())
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == len(findings)
    first = geo["features"][0]
    assert first["id"] == findings[0].id and first["properties"]["indicator"] == findings[0].indicator
    assert first["geometry"]["coordinates"] == [findings[0].lon, findings[0].lat, findings[0].height]
    assert result.summary()["findings_file"] == str(run_dir / "findings.json")


def test_run_ids_are_sortable_and_tell_inputs_apart(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    a = run_check(project, host=host, scene=scene, indicators=["T-TALL"], write=False).run.id
    b = run_check(project, host=host, scene=scene, indicators=["T-TALL"], write=False).run.id
    assert re.fullmatch(r"2025-\d{8}T\d{6}Z-[0-9a-f]{8}", a)
    assert a[-8:] == b[-8:] and a <= b
    (project.root / "city_2025.gml").write_text("<CityModel>changed</CityModel>")
    c = run_check(project, host=host, scene=scene, indicators=["T-TALL"], write=False).run.id
    assert c[-8:] != a[-8:]


def test_profile_thresholds_reach_the_indicator(tmp_path, scene, host) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "city.gml").write_text("<CityModel/>")
    project = Project.from_dict({
        "scene": {"sources": ["city.gml"]},
        "profile": {"name": "city", "indicators": ["T-LIMIT"], "thresholds": {"T-LIMIT": {"default": 20}}},
        "profiles": {"county": {"extends": "city", "thresholds": {"T-LIMIT": {"default": 5}}}},
    }, path=tmp_path / "twin.toml")
    city = run_check(project, host=host, scene=scene, period=2025, write=False)
    county = run_check(project, host=host, scene=scene, period=2025, profile="county", write=False)
    assert city.run.profile == "city" and county.run.profile == "county"
    assert list(city.run.indicators) == ["T-LIMIT"]
    assert sorted(f.object_ids[0] for f in city.findings) == ["tall-a"]
    assert sorted(f.object_ids[0] for f in county.findings) == ["low", "tall-a", "tall-b"]
    assert {f.threshold for f in county.findings} == {5.0}


def test_unknown_indicator_is_a_user_error(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"unknown indicator 'T-TAL' \(did you mean 'T-TALL'\?\)"):
        run_check(project, host=host, scene=scene, indicators=["T-TAL"], write=False)


def test_inline_evaluation_for_debuggers(scene) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context(scene, layers=[units_layer("community", {"C01": (0, 0, 100, 100)})])
    outcome = evaluate_indicator(Tall(), ctx, isolation="inline")
    assert outcome.status == "ok" and len(outcome.findings) == 2
    assert ctx.measurements == []  # the indicator got its own copy of the context


class SeesItsHeap(Indicator):
    spec = _spec("T-HEAP")

    def evaluate(self, ctx):  # type: ignore[no-untyped-def]
        if gc.get_freeze_count() == 0:
            raise RuntimeError("the child's inherited heap is not frozen")
        return []


def test_children_fork_from_a_frozen_heap_and_the_parent_unfreezes(scene) -> None:  # type: ignore[no-untyped-def]
    ctx = make_context(scene, layers=[units_layer("community", {"C01": (0, 0, 100, 100)})])
    assert gc.get_freeze_count() == 0
    outcome = evaluate_indicator(SeesItsHeap(), ctx, isolation="process")
    assert outcome.status == "ok", outcome.error
    assert gc.get_freeze_count() == 0


def test_catalog_missing_is_reported_not_fatal(project, scene, host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    monkeypatch.setitem(sys.modules, "cim_twin.catalog", None)  # import fails as if not installed
    result = run_check(project, host=host, scene=scene, indicators=["T-TALL"],
                       catalog=project.root / "catalog.gpkg")
    assert result.catalog_error and "not available" in result.catalog_error
    assert (result.run_dir / "run.json").is_file()


def test_prepare_runs_once_in_the_parent_and_children_inherit(project, scene) -> None:  # type: ignore[no-untyped-def]
    shared: dict[int, int] = {}

    class Shares(Indicator):
        spec = _spec("T-SHARES")

        def prepare(self, ctx):  # type: ignore[no-untyped-def]
            shared.setdefault(id(ctx.scene), os.getpid())

        def evaluate(self, ctx):  # type: ignore[no-untyped-def]
            # the child sees what the parent prepared (copy-on-write), under the parent's pid
            assert shared[id(ctx.scene)] != os.getpid()
            return []

    class BadPrepare(Indicator):
        spec = _spec("T-BADPREP")

        def prepare(self, ctx):  # type: ignore[no-untyped-def]
            raise KeyError("community_id")

        def evaluate(self, ctx):  # type: ignore[no-untyped-def]
            raise AssertionError("not evaluated after a failed prepare")

    class P:
        @hookimpl
        def register_indicators(self, register):  # type: ignore[no-untyped-def]
            register(Shares())
            register(BadPrepare())

    h = PluginHost()
    h.loaded = True
    h.register_plugin(P(), name="p")
    result = run_check(project, host=h, scene=scene, isolation="process", write=False)
    assert result.run.indicators["T-SHARES"].status == "ok"
    bad = result.run.indicators["T-BADPREP"]
    assert bad.status == "failed" and bad.error == "prepare failed: KeyError: 'community_id'"


def test_the_run_is_handed_to_the_catalog(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    catalog_module = pytest.importorskip("cim_twin.catalog")
    path = project.root / "catalog.gpkg"
    result = run_check(project, host=host, scene=scene, indicators=["T-TALL", "T-RAISES"], catalog=path)
    assert result.catalog_error is None and result.catalog_path == path
    with catalog_module.Catalog.open(path, readonly=True) as catalog:
        stored = catalog.get_run(result.run.id)
        assert stored.status == "completed_with_failures"
        assert stored.indicators["T-RAISES"].error == result.run.indicators["T-RAISES"].error
        assert sorted(f.id for f in catalog.findings(result.run.id)) == sorted(f.id for f in result.findings)
        assert len(catalog.measurements(result.run.id)) == len(result.measurements)
        # the specs come from the host that ran the check (not the process-wide one)
        assert set(catalog.specs(result.run.id)) == {"T-TALL", "T-RAISES"}


def test_parallel_jobs_keep_deadlines_and_order(project, scene) -> None:  # type: ignore[no-untyped-def]
    class Sleeps(Indicator):
        def __init__(self, code: str, seconds: float) -> None:
            self.spec = _spec(code)  # type: ignore[misc]
            self.seconds = seconds

        def evaluate(self, ctx):  # type: ignore[no-untyped-def]
            time.sleep(self.seconds)
            yield ctx.problem(self, ctx.buildings()[0], value=self.seconds)

    class P:
        @hookimpl
        def register_indicators(self, register):  # type: ignore[no-untyped-def]
            register(Sleeps("T-S1", 0.6))
            register(Sleeps("T-S2", 0.6))
            register(Sleeps("T-S3", 0.6))
            register(Sleeps("T-SLOW", 30))
            register(Raises())

    h = PluginHost()
    h.loaded = True
    h.register_plugin(P(), name="p")
    start = time.monotonic()
    result = run_check(project, host=h, scene=scene, timeout_s=1.5, jobs=4, write=False,
                       indicators=["T-SLOW", "T-S1", "T-RAISES", "T-S2", "T-S3"])
    elapsed = time.monotonic() - start
    st = result.run.indicators
    assert list(st) == ["T-SLOW", "T-S1", "T-RAISES", "T-S2", "T-S3"]
    assert [st[c].status for c in st] == ["timeout", "ok", "failed", "ok", "ok"]
    assert len(result.findings) == 3
    assert elapsed < 1.5 + 0.6 + 2.0  # one wave of four, the fifth after the first sleeper: not 1.5 + 3 x 0.6


def test_model_load_warnings_reach_the_run(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    for i in range(25):
        scene.warn(f"polygon has fewer than 3 distinct points ({i})", object_id=f"poly{i}")
    result = run_check(project, host=host, scene=scene, indicators=["T-TALL"], write=False)
    texts = result.run.warnings
    assert sum("fewer than 3 distinct points" in t for t in texts) == 20
    assert any("5 more load warnings" in t for t in texts)


def test_unit_lookup_is_one_query_and_borders_belong_to_the_first_unit(scene) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    units = units_layer("community", {"C01": (0, 0, 100, 100), "C02": (100, 0, 200, 100)})
    ctx = make_context(scene, layers=[units])
    x0, y0 = 500000.0, 2988000.0
    xy = np.array([[x0 + 50, y0 + 50], [x0 + 100, y0 + 50], [x0 + 150, y0 + 50], [x0 + 500, y0 + 50]])
    assert list(ctx.unit_ids_at(xy, "community")) == ["C01", "C01", "C02", None]
    assert list(ctx.unit_ids_at(xy, "block")) == [None] * 4  # no block layer
    assert ctx.unit_of(scene["tall-b"]) == "C02"
    assert ctx.layers_of("units") == [units]


def test_a_finding_outside_every_unit_gets_the_nearest_within_reach(scene) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from cim_twin.indicators.runner import NEAREST_UNIT_MAX_M, place_findings

    units = units_layer("community", {"C01": (0, 0, 100, 100), "C02": (120, 0, 200, 100)})
    ctx = make_context(scene, layers=[units])
    street = Indicator.__new__(Indicator)
    street.spec = _spec("T-STREET")  # type: ignore[misc]
    x0, y0 = 500000.0, 2988000.0
    at = [(x0 + 50, y0 + 50), (x0 + 112, y0 + 50), (x0 + 50, y0 + 100 + NEAREST_UNIT_MAX_M + 50)]
    placed = place_findings([ctx.problem(street, position=xy, subject=str(k)) for k, xy in enumerate(at)], ctx)
    assert [f.unit_id for f in placed] == ["C01", "C02", None]  # the street between: the nearer side
    assert "unit_assigned" not in placed[0].evidence
    assert placed[1].evidence == {"unit_assigned": "nearest", "unit_distance_m": 8.0}
    ids, dist = ctx.nearest_unit_ids(np.array(at), "community", 10.0)
    assert list(ids) == ["C01", "C02", None] and dist[0] == 0.0


def test_runs_within_one_second_get_distinct_ids(project, scene, host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cim_twin.indicators import runner

    fixed = runner.datetime(2026, 1, 12, 8, 30, tzinfo=UTC)

    class Frozen(runner.datetime):  # type: ignore[misc,valid-type]
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def]
            return fixed

    monkeypatch.setattr(runner, "datetime", Frozen)
    first = run_check(project, host=host, scene=scene, indicators=["T-TALL"])
    second = run_check(project, host=host, scene=scene, indicators=["T-TALL"])
    assert second.run.id == first.run.id + "~2" and second.run_dir.name == second.run.id
    assert CheckRun.model_validate(loads((second.run_dir / "run.json").read_bytes())).id == second.run.id


def test_per_indicator_time_limits(tmp_path, scene, host) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "city.gml").write_text("<CityModel/>")
    project = Project.from_dict({"scene": {"sources": ["city.gml"]},
                                 "check": {"timeout_s": 0.5, "timeouts": {"T-HANGS": 1.0}}},
                                path=tmp_path / "twin.toml")
    result = run_check(project, host=host, scene=scene, indicators=["T-HANGS", "T-TALL"], write=False)
    assert result.run.indicators["T-HANGS"].error == "timed out after 1 s (killed)"
    result = run_check(project, host=host, scene=scene, indicators=["T-HANGS"], timeout_s=0.3, write=False)
    assert result.run.indicators["T-HANGS"].error == "timed out after 0.3 s (killed)"
    bad = Project.from_dict({"scene": {"sources": ["city.gml"]}, "check": {"timeouts": {"T-HANG": 1}}},
                            path=tmp_path / "twin.toml")
    with pytest.raises(ConfigError, match=r'\[check.timeouts\] "T-HANG": unknown indicator'):
        run_check(bad, host=host, scene=scene, write=False)


def test_buildings_alive_in_the_period(scene) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from cim_twin.scene import Lifespan

    def when(year: int) -> datetime:
        return datetime(year, 6, 1, tzinfo=UTC)

    scene["low"].lifespan = Lifespan(termination_date=when(2024))       # demolished the year before
    scene["tall-a"].lifespan = Lifespan(creation_date=when(2026))       # built the year after
    scene["tall-b"].lifespan = Lifespan(creation_date=when(2025), termination_date=when(2025))
    assert [b.id for b in make_context(scene, period=2025).buildings()] == ["tall-b"]
    assert [b.id for b in make_context(scene, period=2023).buildings()] == ["low"]
    scene["low"].attributes["function"] = "1000"
    assert [b.id for b in make_context(scene, period=2023).buildings(residential=True)] == ["low"]
    assert make_context(scene, period=2023).buildings(residential=False) == []


def test_indicator_patterns(project, scene, host) -> None:  # type: ignore[no-untyped-def]
    from cim_twin.indicators.runner import select_indicators

    assert select_indicators(["T-TALL", "T-R*", "T-TALL"], host) == ["T-TALL", "T-RAISES", "T-REPEAT"]
    with pytest.raises(ConfigError, match="no indicator matches 'Q-\\*'"):
        select_indicators(["Q-*"], host)


def test_several_sources_make_one_scene(shared_data: Path, tmp_path: Path, host: PluginHost) -> None:
    import shutil

    fzk = shared_data / "3dcitydb-importer-exporter" / "samples" / "FZK_House"
    for name in ("FZK-House-LoD1-KIT-IAI-KHH-V2.gml", "FZK-House-LoD2-KIT-IAI-KHH-V2.gml"):
        shutil.copy(fzk / name, tmp_path / name)
    project = Project.from_dict({"scene": {"sources": ["FZK-House-LoD[12]-*.gml"]}, "project": {"catalog": ""},
                                 "profile": {"thresholds": {"T-LIMIT": {"default": 5.0}}}},
                                path=tmp_path / "twin.toml")
    result = run_check(project, host=host, indicators=["T-LIMIT"], period=2025, write=False)
    # the same house twice: both kept, the second id with a suffix (and a warning); FZK-Haus is
    # 6.52 m high (measuredHeight), over the profile's 5 m
    assert result.run.indicators["T-LIMIT"].status == "ok"
    ids = sorted(f.object_ids[0] for f in result.findings)
    assert len(ids) == 2 and ids[1] == ids[0] + "~2"
    assert {f.value for f in result.findings} == {6.52}
    assert sorted(result.run.inputs) == ["FZK-House-LoD1-KIT-IAI-KHH-V2.gml", "FZK-House-LoD2-KIT-IAI-KHH-V2.gml"]
    assert any("duplicate id" in w for w in result.run.warnings)
    assert result.run.crs.startswith("EPSG:25832")

    potsdam = shared_data / "3dcitydb-importer-exporter/resources/samples/Potsdam/CityGML/Potsdam_LoD1/Potsdam_LoD1.gml"
    shutil.copy(potsdam, tmp_path / "Potsdam_LoD1.gml")
    mixed = Project.from_dict({"scene": {"sources": ["FZK-House-LoD1-KIT-IAI-KHH-V2.gml", "Potsdam_LoD1.gml"]}},
                              path=tmp_path / "twin.toml")
    from cim_twin.errors import CRSError

    with pytest.raises(CRSError, match=r"Potsdam_LoD1.gml: source is in EPSG:25833.*first source in EPSG:25832"):
        run_check(mixed, host=host, indicators=["T-LIMIT"], period=2025, write=False)


def test_points_given_in_2d_sit_on_the_ground() -> None:
    scene = make_scene([box_building("a", 0, 0, ground=212.0), box_building("b", 20, 0, ground=214.0),
                        box_building("c", 40, 0, ground=230.0), box_building("far", 5000, 0, ground=900.0)])
    ctx = make_context(scene)
    x0, y0 = 500000.0, 2988000.0
    p = ctx.problem(Limit(), None, position=(x0 + 15, y0 + 5), value=1.0)
    assert p.z == 214.0  # median of the three nearest grounds
    assert ctx.problem(Limit(), None, position=(x0 + 15, y0 + 5, 3.5)).z == 3.5
    assert ctx.ground_z_at(x0 + 2500, y0 + 3000) == 0.0  # nothing within 500 m


def test_project_plugin_files(tmp_path: Path, scene) -> None:  # type: ignore[no-untyped-def]
    from cim_twin.errors import PluginError
    from cim_twin.indicators.runner import load_project_plugins

    code = ("from cim_twin.plugins import hookimpl, Indicator, IndicatorSpec\n"
            "class L(Indicator):\n"
            "    spec = IndicatorSpec(code='{code}', name_en='l', name_zh='l', category='生态宜居', "
            "level='building', unit='1')\n"
            "    def evaluate(self, ctx):\n        return []\n"
            "@hookimpl\ndef register_indicators(register):\n    register(L())\n")
    for folder, indicator in (("a", "P-ONE"), ("b", "P-TWO")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "local.py").write_text(code.format(code=indicator))
        (tmp_path / folder / "twin.toml").write_text('[plugins]\npaths = ["local.py"]\n')
    host = PluginHost()
    host.loaded = True
    for _ in range(2):  # loading the same project twice registers its file once
        load_project_plugins(Project.load(tmp_path / "a"), host)
    load_project_plugins(Project.load(tmp_path / "b"), host)  # same file name, another project
    assert {n: i.indicators for n, i in host.plugins.items()} == {"project:local": ["P-ONE"],
                                                                    "project:local~2": ["P-TWO"]}
    assert host.plugins["project:local"].origin == "project file (local.py)"
    (tmp_path / "a" / "twin.toml").write_text('[plugins]\npaths = ["missing.py"]\n')
    with pytest.raises(PluginError, match=r"\[plugins\] paths: file not found"):
        load_project_plugins(Project.load(tmp_path / "a"), host)


def test_the_scene_of_a_period_carries_its_epoch(tmp_path, test_data) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from cim_twin.indicators.runner import load_scene
    from cim_twin.model import Period

    shutil.copy(test_data / "citygml" / "edge_cases_v2.gml", tmp_path / "city_2024.gml")
    project = Project.from_dict({"project": {"name": "t", "period": 2024, "catalog": ""},
                                 "scene": {"sources": ["city_{period}.gml"]}}, path=tmp_path / "twin.toml")  # fmt: skip
    scene = load_scene(project, Period.year(2024))
    assert str(scene.epoch) == "2024-01-01" and len(scene.roots) > 0
