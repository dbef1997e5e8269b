"""Flattening of building attributes and the typed schema derived from them."""

from __future__ import annotations

from cim_twin.export.features import PropertyTable, derive_columns, flatten_object, property_id

from .scenes import box_scene


def test_flattening_address_sets_measures_and_collisions() -> None:
    scene = box_scene(6)
    b = scene["BLDG_0000"]
    b.generic_attributes["function"] = "generic value"  # same name as a thematic attribute
    units: dict[str, str] = {}
    flat = flatten_object(b, units)
    assert flat["address.street"] == "滨江中路" and flat["address.house_number"] == "10"
    assert flat["census.households"] == 10 and flat["census.name"] == "楼0"
    assert flat["measuredHeight"] == b.attributes["measuredHeight"].value and units["measuredHeight"] == "m"
    assert flat["function"] == "1000" and flat["generic.function"] == "generic value"
    assert flat["creationDate"] == "2020-01-01"
    assert flat["surveyed_at"] == "2024-05-01T08:00:00+00:00"
    assert flat["homepage"] == "https://example.org/b/0"
    assert flat["risk_flag"] is True


def test_property_ids_are_identifiers_and_unique() -> None:
    taken: set[str] = set()
    assert property_id("address.street", taken) == "address_street"
    assert property_id("address street", taken) == "address_street_2"
    chinese = property_id("建筑结构", taken)
    assert chinese.startswith("attr_") and chinese.isidentifier() and chinese.isascii()
    assert property_id("3d", taken) == "_3d"
    mixed = property_id("gen:楼层", taken)
    assert mixed.startswith("gen_") and mixed.isascii()


def test_types_from_values() -> None:
    rows = [{"a": 1, "b": 1.5, "c": True, "d": "x", "e": 2**40}, {"a": 2, "b": 2, "c": False, "e": 1}, {"a": None, "c": True}]
    cols = {c.name: c for c in derive_columns(rows, first=())}
    assert (cols["a"].type, cols["a"].component_type, cols["a"].no_data) == ("SCALAR", "INT32", -2147483648)
    assert (cols["b"].component_type, cols["b"].no_data) == ("FLOAT64", -1e300)
    assert cols["c"].type == "BOOLEAN"
    assert cols["d"].type == "STRING"
    assert cols["e"].component_type == "FLOAT64"  # beyond 32 bits
    table = PropertyTable(list(cols.values()), rows)
    assert table.values(cols["d"]) == ["x", "", ""]
    # a boolean missing on some building is text, so missing is not mistaken for false
    rows2 = [{"f": True}, {}]
    assert derive_columns(rows2, first=())[0].type == "STRING"
