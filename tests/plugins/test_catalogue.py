"""docs/indicators.md stays in step with the registered specs; every spec is complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from cim_twin_plugins import PLUGIN_MODULES
from cim_twin_plugins.catalogue import BEGIN, END, first_party_indicators, render_catalogue, update_docs

from cim_twin.model import CATEGORIES, LEVELS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"

EXPECTED = {
    "N-PARK-COVER", "N-ELDERLY-CARE-COVER", "L-NURSING-BEDS", "L-TOILET-COVER", "N-KINDERGARTEN-COVER",
    "N-PRIMARY-SCHOOL-COVER", "N-FIRE-5MIN", "N-NEW-RES-80M", "L-OLD-HOUSING", "L-STREET-HW", "L-GREEN-VIEW",
    "L-SIDEWALK-WIDTH", "N-ROAD-DENSITY", "N-WATERLOGGING", "L-PUBLIC-VITALITY", "L-REPORTED",
}


def test_docs_catalogue_is_up_to_date():
    assert update_docs(DOCS, check=True), "docs/indicators.md is out of date: python -m cim_twin_plugins.catalogue docs/indicators.md"


def test_every_indicator_has_a_formula_section():
    text = DOCS.read_text(encoding="utf-8").split(BEGIN)[0]
    for _, ind in first_party_indicators():
        assert f"### {ind.spec.code}" in text or f", {ind.spec.code} " in text, f"no formula section for {ind.spec.code}"


def test_specs_are_complete():
    found = first_party_indicators()
    codes = [ind.spec.code for _, ind in found]
    assert set(codes) == EXPECTED and len(codes) == len(set(codes))
    for plugin, ind in found:
        spec = ind.spec
        assert plugin in PLUGIN_MODULES
        assert spec.category in CATEGORIES and spec.level in LEVELS
        assert spec.name_zh and spec.name_en and spec.unit and spec.description_en and spec.description_zh
        assert spec.code.startswith("N-") == spec.national, spec.code
        assert spec.thresholds and all(t.source for t in spec.thresholds.values())
        assert spec.data_needed


def test_render_and_check_detects_drift(tmp_path):
    page = tmp_path / "indicators.md"
    page.write_text(f"# head\n\n{BEGIN}\nstale\n{END}\n\ntail\n", encoding="utf-8")
    assert update_docs(page, check=True) is False
    assert update_docs(page) is True and update_docs(page, check=True) is True
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# head") and text.rstrip().endswith("tail") and "| `N-FIRE-5MIN` |" in text
    assert "建标152-2017" in render_catalogue([(p, i.spec) for p, i in first_party_indicators()])
    (tmp_path / "bare.md").write_text("no markers", encoding="utf-8")
    with pytest.raises(ValueError, match="markers are missing"):
        update_docs(tmp_path / "bare.md")
