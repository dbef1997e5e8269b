"""twin.toml: the agreed shape loads; every error names the file, the key and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cim_twin.errors import ConfigError
from cim_twin.project import Project, find_project_file

CONTRACT = """\
[project]
name = "南平示例城区 Nanping example district"
period = 2025                 # default period of `cim-twin check` (a year)
timezone = "Asia/Shanghai"
crs = "EPSG:4548"             # optional: CRS for sources that state none
catalog = "catalog.gpkg"      # relative to this file
output = "export"

[scene]
sources = ["city_{period}.gml"]     # paths or globs relative to this file; {period} is substituted

[layers.communities]
path = "layers/communities.geojson"
kind = "units"
level = "community"
[layers.roads]
path = "layers/{period}/roads.geojson"   # {period} allowed in layer paths too
kind = "roads"
[layers.poi]
path = "layers/{period}/poi.geojson"
kind = "poi"
crs = "GCJ-02"                 # EPSG:n, GCJ-02 or BD-09; GeoJSON default EPSG:4326
[layers.population]
path = "layers/{period}/population.csv"
kind = "population"            # CSV without geometry: joined by building_id
[layers.heatmap]
path = "layers/{period}/heatmap.csv"
kind = "heatmap"
crs = "EPSG:4548"              # CSV x/y columns in this CRS (or lon/lat columns in EPSG:4326)

[profile]
name = "nanping"
indicators = ["*"]             # or a list of codes
[profile.thresholds."N-PARK-COVER"]
default = 0.9
[profile.options."L-OLD-HOUSING"]
before_year = 1990

[profiles.jianyang]            # a county profile extends the city profile and overrides it
extends = "nanping"
[profiles.jianyang.thresholds."N-PARK-COVER"]
default = 0.85
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "twin.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_agreed_shape_loads(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, CONTRACT))
    assert project.name.startswith("南平")
    period = project.period()
    assert period.label == "2025" and period.start.utcoffset().total_seconds() == 8 * 3600
    assert project.scene_crs == "EPSG:4548"
    assert project.catalog_path == tmp_path / "catalog.gpkg"
    assert project.output_dir == tmp_path / "export"
    assert project.layer_path("roads", project.period(2024)) == tmp_path / "layers/2024/roads.geojson"
    assert project.config.layers["poi"].crs == "GCJ-02"
    assert project.config.layers["communities"].level == "community"
    city = project.profile()
    assert city.name == "nanping" and city.thresholds == {"N-PARK-COVER": {"default": 0.9}}
    county = project.profile("jianyang")
    assert county.thresholds["N-PARK-COVER"] == {"default": 0.85}
    assert county.options == {"L-OLD-HOUSING": {"before_year": 1990}}  # inherited
    assert county.chain == ("nanping", "jianyang")
    # Project.load takes the folder too
    assert find_project_file(tmp_path) == tmp_path / "twin.toml"
    assert Project.load(tmp_path).name == project.name


def test_sources_expand_globs_and_period(tmp_path: Path) -> None:
    for name in ("a_2024.gml", "b_2024.gml", "a_2025.gml"):
        (tmp_path / name).write_text("x")
    project = Project.load(write(tmp_path, '[scene]\nsources = ["*_{period}.gml"]\n'))
    assert [p.name for p in project.sources(project.period(2024))] == ["a_2024.gml", "b_2024.gml"]
    with pytest.raises(ConfigError, match=r"\[scene\] sources: '\*_\{period\}.gml' matches no file"):
        project.sources(project.period(2023))


def test_missing_source_and_layer_files_name_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, CONTRACT)
    project = Project.load(path)
    with pytest.raises(ConfigError) as err:
        project.sources(project.period())
    assert str(err.value).startswith(f"{path}:10: [scene] sources: file not found")
    (tmp_path / "city_2025.gml").write_text("x")
    (tmp_path / "layers").mkdir()
    with pytest.raises(ConfigError) as err:
        project.check_layer_files(project.period())
    assert f"{path}:13: [layers.communities] path: file not found" in str(err.value)


def test_optional_layer_missing_is_only_skipped(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, '[layers.roads]\npath = "roads_{period}.geojson"\nkind = "roads"\n'
                                             "required = false\n"))
    assert project.check_layer_files(project.period(2025)) == ["roads"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[project]\nname = "x"\nperiod = "twenty"\n', ":3: [project] period: Input should be a valid integer"),
        ('[layers.poi]\npath = "p.geojson"\nkind = "pois"\n',
         ":3: [layers.poi] kind: unknown layer kind 'pois' (did you mean 'poi'?)"),
        ('[layers.poi]\npath = "p.geojson"\nkind = "poi"\ncrs = "GCJ-03"\n',
         ":4: [layers.poi] crs: unknown CRS 'GCJ-03' (use EPSG:n, GCJ-02 or BD-09)"),
        ('[layer.poi]\npath = "p.geojson"\n', ":1: layer: unknown key 'layer' (did you mean 'layers'?)"),
        ('[layers.poi]\npath = "p.geojson"\nkind = "poi"\ncsr = "GCJ-02"\n',
         ":4: [layers.poi] csr: unknown key 'csr' (did you mean 'crs'?)"),
        ('[profile]\n[profile.thresholds."N-PARK-COVER"]\ndefault = "high"\n',
         ":3: [profile.thresholds.N-PARK-COVER] default: Input should be a valid number"),
        ('[project]\ntimezone = "Asia/Beijing"\n', ":2: [project] timezone: unknown time zone 'Asia/Beijing'"),
        ("[project\nname = 1\n", ":1:9: not valid TOML"),
        ('[profiles.county]\nextends = "city"\n', "[profiles.county] extends: unknown profile 'city'"),
        ('[profiles.a]\nextends = "b"\n[profiles.b]\nextends = "a"\n', "extends: cycle through 'a'"),
    ],
)
def test_errors_name_file_key_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        Project.load(path)
    assert str(err.value).startswith(str(path)), str(err.value)
    assert expected in str(err.value), str(err.value)


def test_unknown_indicator_in_profile(tmp_path: Path) -> None:
    path = write(tmp_path, CONTRACT)
    project = Project.load(path)
    known = ["N-PARK-COVER", "L-OLD-HOUSING", "N-ROAD-DENSITY"]
    project.check_indicator_codes(project.profile("jianyang"), known)  # all fine
    bad = Project.load(write(tmp_path, CONTRACT.replace('indicators = ["*"]', 'indicators = ["N-PARK-COVR"]')))
    with pytest.raises(ConfigError, match=r"\[profile\] indicators: unknown indicator 'N-PARK-COVR' "
                                          r"\(did you mean 'N-PARK-COVER'\?\)"):
        bad.check_indicator_codes(bad.profile(), known)
    bad = Project.load(write(tmp_path, CONTRACT.replace('thresholds."N-PARK-COVER"]\ndefault = 0.85',
                                                        'thresholds."N-PARK"]\ndefault = 0.85')))
    with pytest.raises(ConfigError, match=r'\[profiles.jianyang.thresholds."N-PARK"\]: unknown indicator'):
        bad.check_indicator_codes(bad.profile("jianyang"), known)


def test_profile_selection_patterns_and_exclusions(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, '[profile]\nname = "c"\nindicators = ["N-*", "L-OLD-HOUSING"]\n'
                                             'exclude = ["N-ROAD-*"]\n[profiles.k]\nindicators = ["*"]\n'))
    known = ["N-PARK-COVER", "N-ROAD-DENSITY", "L-OLD-HOUSING", "L-REPORTED"]
    assert project.profile().select(known) == ["L-OLD-HOUSING", "N-PARK-COVER"]
    # a named profile without extends builds on [profile]: the list is replaced, exclusions stay
    assert project.profile("k").select(known) == ["L-OLD-HOUSING", "L-REPORTED", "N-PARK-COVER"]


def test_period_validation(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, "[project]\nperiod = 2024\n"))
    assert project.period().label == "2024" and project.period("2025").label == "2025"
    with pytest.raises(ConfigError, match="period must be a year"):
        project.period("last year")


def test_bare_source_project(tmp_path: Path) -> None:
    source = tmp_path / "model.gml"
    source.write_text("x")
    project = Project.for_source(source, output=tmp_path / "out", crs="EPSG:25832")
    assert project.sources() == [source.resolve()]
    assert project.catalog_path is None and project.scene_crs == "EPSG:25832"
    assert project.profile().name == "default" and project.profile().select(["A", "B"]) == ["A", "B"]


def test_reference_docs_are_complete_and_their_example_loads(tmp_path: Path) -> None:
    import re

    from cim_twin.project import (
        CheckSettings,
        LayerConfig,
        PluginsSection,
        ProfileSection,
        ProjectFile,
        ProjectSection,
        SceneSection,
    )

    doc = (Path(__file__).resolve().parents[1] / "docs" / "project-file.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", doc, flags=re.S).group(1)
    project = Project.load(write(tmp_path, example))
    assert project.profile("jianyang").thresholds["N-PARK-COVER"] == {"default": 0.85}
    for section in ProjectFile.model_fields:
        assert f"`[{section}]" in doc or f"`[{section}." in doc, f"section [{section}] undocumented"
    for model in (ProjectSection, SceneSection, LayerConfig, ProfileSection, CheckSettings, PluginsSection):
        for key in model.model_fields:
            assert re.search(rf"^\| `{key}(`|\.)", doc, flags=re.M) or f"`{key}`, `" in doc or \
                f", `{key}`" in doc, f"{model.__name__}.{key} undocumented"


def test_threshold_shorthand(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, '[profile.thresholds]\n"N-PARK-COVER" = 0.9\n'
                                             '[profile.thresholds."N-FIRE-5MIN"]\nminutes = 5\n'))
    assert project.profile().thresholds == {"N-PARK-COVER": {"default": 0.9}, "N-FIRE-5MIN": {"minutes": 5.0}}
