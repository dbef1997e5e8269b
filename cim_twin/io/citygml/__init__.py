"""CityGML 1.0 / 2.0 / 3.0 reader: streaming, safe, with xlink resolution, appearances and
triangulated geometry per LOD.

>>> from cim_twin.io.citygml import read_citygml, citygml_info   # doctest: +SKIP
>>> scene = read_citygml("district.gml.gz")                        # doctest: +SKIP
>>> citygml_info("district.gml.gz")["counts"]                      # doctest: +SKIP
{'Building': 100000}

What a user can rely on:

* **Streaming.** The file is parsed with lxml ``iterparse``; top-level members are processed in
  small batches and freed, so memory stays flat. ``citygml_info`` never builds meshes.
* **Safety.** No entity expansion, no DTD, no network. A DOCTYPE before the root element is refused
  (:class:`~cim_twin.errors.UnsafeInputError`) before the parser runs. Not well-formed XML is a
  :class:`~cim_twin.errors.FormatError` with file, line and column; IndoorGML, KML, JSON/CityJSON
  say what they are.
* **Objects.** Every top-level feature becomes a :class:`~cim_twin.scene.CityObject` of its kind
  (unknown kinds under their element name); nested features (BuildingPart, Room, installations,
  ADE objects with geometry) are children. Thematic surfaces and openings are rows of the mesh's
  surface table, with the wall or roof that holds each opening.
* **Geometry.** Polygons (with holes), Triangles, Rectangles, MultiSurface, CompositeSurface,
  Shell, Surface patches, TriangulatedSurface/TIN, Solid, MultiSolid, CompositeSolid,
  OrientableSurface (``-`` flips), MultiGeometry; ``posList``, ``pos``, ``coordinates``;
  srsDimension 2 or 3; implicit geometry (templates inline or by xlink). LOD comes from the
  property name (``lod0FootPrint`` ... ``lod4Solid``, 3.0 ``lodXSolid``), or from ``lod`` for
  relief components. Points and curves give LODs and extents but no triangles.
* **xlinks** to geometry resolve in either order, inside a feature and across features; a
  reference to a polygon already present only hands over the thematic surface, so nothing is
  counted twice.
* **Attributes** are typed (int, float, bool, date, :class:`~cim_twin.scene.Measure`,
  :class:`~cim_twin.scene.URI`); generic attributes (sets as nested dicts); xAL 2 and 3
  addresses; lifespans timezone-aware (UTC when the file gives no zone); ADE properties as
  ``prefix:name``; complex values as nested dicts.
* **CRS.** srsName from the geometry, the feature envelope or the document envelope, in every form
  :func:`cim_twin.crs.parse_srs_name` knows. Latitude-first CRSs in URN/URI form (EPSG:6697,
  ``urn:ogc:def:crs:EPSG::4979``) are swapped to x=lon, y=lat on input; the short ``EPSG:n`` form
  is read longitude first, as GIS software and real files do. Geographic input is moved into its
  UTM zone (the scene CRS is metric); the declared CRS stays in ``scene.source_crs``. ``crs=``
  overrides what the file says. No CRS at all: coordinates as given and a warning
  (``require_crs=True`` makes it an error); a local engineering CRS loads with ``extent_wgs84``
  None. An unknown srsName on one object drops that geometry with a warning; on the document it is
  a :class:`~cim_twin.errors.CRSError`.
* **Warnings** (:class:`~cim_twin.errors.LoadWarning`, file, line, gml:id) for degenerate rings and
  polygons, unreadable coordinates, unresolved xlinks, empty members, appearance themes not kept;
  one broken object never stops the others.
* **Appearances.** Texture images with per-ring texture coordinates go to ``Mesh.uv`` /
  ``texture_index`` and ``Scene.textures``; X3D materials to ``material_index`` /
  ``Scene.materials``. One theme is kept for each. Appearances placed after the features they
  style (PLATEAU) are applied with a second pass over the file.

``citygml_info`` is the fast path: it reads the coordinates of a feature in the feature's (or the
document's) CRS without looking at srsNames deeper inside, and checks no rings; ``read_citygml``
does both.

Not done: georeferenced textures, CityGML 3.0 point clouds and dynamizers' time series (kept as
objects and attributes only), schema validation.
"""

from __future__ import annotations

from .reader import CityGMLReader, citygml_info, iter_citygml, read_citygml

__all__ = ["CityGMLReader", "citygml_info", "iter_citygml", "read_citygml"]
