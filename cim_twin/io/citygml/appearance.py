"""CityGML appearances: texture images with per-ring texture coordinates, and X3D materials.

Targets are gml:ids of polygons (or of surfaces holding them) and, for texture coordinates, of
rings. One theme is kept for textures and one for materials (the first one met), because a mesh
carries one appearance per triangle; the other themes are counted and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from lxml import etree

from ...scene import Material, Texture
from .attributes import local_name

__all__ = ["AppearanceStore"]

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def _floats(text: str | None, n: int | None = None) -> list[float] | None:
    if not text:
        return None
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        return None
    if n is not None and len(values) < n:
        return None
    return values


@dataclass
class AppearanceStore:
    """Textures and materials of a scene, and the targets not yet applied to geometry."""

    textures: list[Texture] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    texture_theme: str | None = None
    material_theme: str | None = None
    skipped_themes: set[str] = field(default_factory=set)
    target_texture: dict[str, int] = field(default_factory=dict)
    target_material: dict[str, int] = field(default_factory=dict)
    ring_uv: dict[str, np.ndarray] = field(default_factory=dict)
    georeferenced_textures: int = 0
    _texture_ids: dict[tuple[str, str | None, str | None], int] = field(default_factory=dict)
    _material_ids: dict[Material, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.target_texture or self.target_material)

    def add_appearance(self, el: etree._Element) -> list[str]:
        """Record one ``app:Appearance`` element; returns the target ids it added (so a caller can
        forget local appearances once their feature is done)."""
        theme = None
        added: list[str] = []
        for child in el:
            name = local_name(child.tag)
            if name == "theme":
                theme = (child.text or "").strip() or None
            elif name in ("surfaceDataMember", "surfaceData"):
                for data in child:
                    if isinstance(data.tag, str):
                        added.extend(self._surface_data(data, theme))
        return added

    def _surface_data(self, data: etree._Element, theme: str | None) -> list[str]:
        kind = local_name(data.tag)
        if kind == "X3DMaterial":
            if self.material_theme is None:
                self.material_theme = theme or ""
            if (theme or "") != self.material_theme:
                self.skipped_themes.add(theme or "")
                return []
            return self._material(data)
        if kind == "ParameterizedTexture":
            if self.texture_theme is None:
                self.texture_theme = theme or ""
            if (theme or "") != self.texture_theme:
                self.skipped_themes.add(theme or "")
                return []
            return self._texture(data)
        if kind == "GeoreferencedTexture":
            self.georeferenced_textures += 1
        return []

    def _material(self, el: etree._Element) -> list[str]:
        values: dict[str, object] = {}
        targets: list[str] = []
        for child in el:
            name = local_name(child.tag)
            if name == "target":
                text = (child.text or child.get("uri") or "").strip()
                if text:
                    targets.append(text.lstrip("#"))
            elif name in ("diffuseColor", "emissiveColor", "specularColor"):
                rgb = _floats(child.text, 3)
                if rgb:
                    values[name] = (rgb[0], rgb[1], rgb[2])
            elif name in ("transparency", "shininess", "ambientIntensity"):
                v = _floats(child.text, 1)
                if v:
                    values[name] = v[0]
        material = Material(
            diffuse=values.get("diffuseColor", (0.8, 0.8, 0.8)),  # type: ignore[arg-type]
            transparency=float(values.get("transparency", 0.0)),  # type: ignore[arg-type]
            emissive=values.get("emissiveColor"),  # type: ignore[arg-type]
            specular=values.get("specularColor"),  # type: ignore[arg-type]
            shininess=values.get("shininess"),  # type: ignore[arg-type]
            ambient_intensity=values.get("ambientIntensity"),  # type: ignore[arg-type]
        )
        index = self._material_ids.get(material)
        if index is None:
            index = len(self.materials)
            self.materials.append(material)
            self._material_ids[material] = index
        added = []
        for t in targets:
            if t not in self.target_material:
                self.target_material[t] = index
                added.append(t)
        return added

    def _texture(self, el: etree._Element) -> list[str]:
        uri = mime = wrap = None
        associations: list[tuple[str, list[tuple[str, str]]]] = []
        for child in el:
            name = local_name(child.tag)
            if name == "imageURI":
                uri = (child.text or "").strip()
            elif name == "mimeType":
                mime = (child.text or "").strip() or None
            elif name == "wrapMode":
                wrap = (child.text or "").strip() or None
            elif name == "target":  # CityGML 1.0/2.0
                target = (child.get("uri") or "").lstrip("#")
                coords = []
                for tex in child.iter():
                    if local_name(tex.tag) == "textureCoordinates":
                        coords.append(((tex.get("ring") or "").lstrip("#"), tex.text or ""))
                associations.append((target, coords))
            elif name == "textureParameterization":  # CityGML 3.0
                for assoc in child:
                    if local_name(assoc.tag) != "TextureAssociation":
                        continue
                    target = ""
                    coords = []
                    for part in assoc:
                        pname = local_name(part.tag)
                        if pname in ("uri", "target"):
                            target = (part.text or part.get(XLINK_HREF) or "").strip().lstrip("#")
                        elif pname == "textureParameterization":
                            for tcl in part.iter():
                                if local_name(tcl.tag) != "TexCoordList":
                                    continue
                                texts = [c.text or "" for c in tcl if local_name(c.tag) == "textureCoordinates"]
                                rings = [(c.text or "").strip().lstrip("#") for c in tcl if local_name(c.tag) == "ring"]
                                coords.extend(zip(rings, texts, strict=False))
                    associations.append((target, coords))
        if not uri:
            return []
        key = (uri, mime, wrap)
        index = self._texture_ids.get(key)
        if index is None:
            index = len(self.textures)
            self.textures.append(Texture(uri=uri, mime_type=mime, wrap_mode=wrap))
            self._texture_ids[key] = index
        added = []
        for target, coords in associations:
            if not target or target in self.target_texture:
                continue
            self.target_texture[target] = index
            added.append(target)
            for ring_id, text in coords:
                values = _floats(text)
                if ring_id and values and len(values) % 2 == 0:
                    uv = np.asarray(values, dtype=np.float32).reshape(-1, 2)
                    self.ring_uv[ring_id] = uv
                    added.append("ring:" + ring_id)
        return added

    def forget(self, keys: list[str]) -> None:
        """Drop targets recorded by :meth:`add_appearance` (local appearances after their feature)."""
        for key in keys:
            if key.startswith("ring:"):
                self.ring_uv.pop(key[5:], None)
            else:
                self.target_texture.pop(key, None)
                self.target_material.pop(key, None)
