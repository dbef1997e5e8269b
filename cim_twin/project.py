"""The project file ``twin.toml``: what a health check reads, how, and where its results go.

A project file names the scene sources (CityGML files or 3D tilesets, globs allowed), the auxiliary
layers (GeoJSON / CSV / GeoPackage, with their kind and CRS, GCJ-02 and BD-09 included), the
indicator profile (which indicators, threshold overrides; county profiles extend the city profile),
the default period, the catalog and the output folder. ``{period}`` in any path is replaced by the
period of the run, so that one file serves every annual epoch. See docs/project-file.md.

>>> project = Project.load("twin.toml")                     # doctest: +SKIP
>>> project.sources(period=2025)                            # doctest: +SKIP
[PosixPath('.../city_2025.gml')]

Every error names the file, the key (``[layers.poi] crs``) and, where it can be found, the line.
"""

from __future__ import annotations

import difflib
import glob
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError
from .model import Period

__all__ = [
    "LAYER_KINDS",
    "PROJECT_FILE_NAME",
    "CheckSettings",
    "LayerConfig",
    "Profile",
    "Project",
    "ProjectFile",
    "find_project_file",
]

PROJECT_FILE_NAME = "twin.toml"

#: Layer kinds the built-in indicators know (see docs/project-file.md for their columns). Other
#: kinds are allowed with an ``x-`` prefix (e.g. ``x-trees``) for a plugin's own data.
LAYER_KINDS: dict[str, str] = {
    "units": "spatial units: community / block / district polygons with id, name, level",
    "roads": "road centrelines: id, name, class, width_m, sidewalk_width_m, lanes",
    "parks": "parks and squares (polygons): id, name, kind",
    "poi": "points of interest: id, name, type, beds, nursing_beds, capacity",
    "population": "residents per building: building_id, residents, elderly (CSV without geometry)",
    "streetview": "street-view samples: id, road_id, heading_deg, taken_at and class fractions",
    "heatmap": "crowd-density grid: x, y, cell_m, hour, density",
    "incidents": "dated incidents such as waterlogging: id, date, depth_cm, duration_h",
    "reports": "field survey and public reports: id, time, category, text, source, photo",
}


class _Section(BaseModel):
    # extra="forbid": a misspelled key is an error naming the key, not a silently ignored line.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ProjectSection(_Section):
    """``[project]``"""

    name: str = "cim_twin project"
    period: int | None = Field(default=None, description="default period (a year) of `cim-twin check`")
    timezone: str = Field(default="UTC", description="IANA time zone of the period boundaries")
    crs: str | None = Field(default=None, description="CRS for sources that state none")
    catalog: str | None = Field(default="catalog.gpkg", description="catalog path, relative to twin.toml")
    output: str = Field(default="export", description="output folder, relative to twin.toml")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from exc
        return value


class SceneSection(_Section):
    """``[scene]``"""

    sources: list[str] = Field(default_factory=list, description="paths or globs; {period} substituted")
    crs: str | None = Field(default=None, description="CRS override for every source")
    options: dict[str, Any] = Field(default_factory=dict, description="reader options (e.g. max_depth)")


class LayerConfig(_Section):
    """``[layers.NAME]``: one auxiliary layer."""

    path: str
    kind: str
    level: Literal["building", "community", "block", "district"] | None = None
    crs: str | None = Field(default=None, description="EPSG:n, GCJ-02 or BD-09; GeoJSON default EPSG:4326")
    table: str | None = Field(default=None, description="GeoPackage table (default: the only feature table)")
    id_column: str | None = Field(default=None, description="column holding the feature id (default id)")
    x_column: str | None = None
    y_column: str | None = None
    encoding: str | None = Field(default=None, description="CSV text encoding (default UTF-8, GB18030 fallback)")
    required: bool = Field(default=True, description="false: a missing file is a warning, not an error")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value in LAYER_KINDS or value.startswith("x-"):
            return value
        close = difflib.get_close_matches(value, list(LAYER_KINDS), n=1)
        maybe = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown layer kind {value!r}{maybe}; known kinds: {', '.join(LAYER_KINDS)}; "
            "a plugin's own kinds start with 'x-'"
        )

    @field_validator("crs")
    @classmethod
    def _valid_crs(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from .io.layers import normalise_layer_crs

        return normalise_layer_crs(value)


class ProfileSection(_Section):
    """``[profile]`` and each ``[profiles.NAME]``."""

    name: str | None = None
    extends: str | None = None
    description: str = ""
    indicators: list[str] | None = Field(default=None, description='codes, or ["*"] for all')
    exclude: list[str] = Field(default_factory=list, description="codes left out")
    thresholds: dict[str, dict[str, float]] = Field(default_factory=dict)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # [profile.thresholds] "N-PARK-COVER" = 0.9 is short for ... { default = 0.9 }
        if isinstance(value, dict):
            return {code: {"default": v} if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                    for code, v in value.items()}
        return value


class CheckSettings(_Section):
    """``[check]``: how the runner evaluates indicators."""

    timeout_s: float = Field(default=600.0, gt=0, description="per-indicator time limit (seconds)")
    isolation: Literal["auto", "process", "thread", "inline"] = Field(
        default="auto", description="auto = process where fork exists, else thread"
    )
    jobs: int = Field(default=1, ge=1, description="indicators evaluated at the same time (process isolation)")
    timeouts: dict[str, float] = Field(default_factory=dict, description="per-indicator time limits (seconds)")

    @field_validator("timeouts")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {code: t for code, t in value.items() if t <= 0}
        if bad:
            raise ValueError(f"time limits must be positive: {bad}")
        return value


class PluginsSection(_Section):
    """``[plugins]``: project-local plugins, loaded beside the installed ones."""

    modules: list[str] = Field(default_factory=list, description="importable module names")
    paths: list[str] = Field(default_factory=list, description="plugin .py files relative to twin.toml")


class ProjectFile(_Section):
    """The whole ``twin.toml`` as validated data."""

    project: ProjectSection = Field(default_factory=ProjectSection)
    scene: SceneSection = Field(default_factory=SceneSection)
    layers: dict[str, LayerConfig] = Field(default_factory=dict)
    profile: ProfileSection = Field(default_factory=ProfileSection)
    profiles: dict[str, ProfileSection] = Field(default_factory=dict)
    check: CheckSettings = Field(default_factory=CheckSettings)
    plugins: PluginsSection = Field(default_factory=PluginsSection)
    # Read by the catalog (cim_twin.catalog): project generation settings and measure overrides,
    # and the 留改拆 rules; validated there (see docs/catalog.md).
    projects: dict[str, Any] = Field(default_factory=dict, description="[projects] settings of the catalog")
    actions: dict[str, Any] = Field(default_factory=dict, description="[actions] 留改拆 rules")


@dataclass(frozen=True)
class Profile:
    """A resolved indicator profile (``extends`` applied)."""

    name: str
    indicators: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    chain: tuple[str, ...] = ()  # the profile names merged, base first

    def select(self, available: Iterable[str]) -> list[str]:
        """The codes of ``available`` this profile runs, in sorted order (``*`` patterns allowed)."""
        import fnmatch

        codes = sorted(available)
        chosen = [c for c in codes if any(fnmatch.fnmatchcase(c, pat) for pat in self.indicators)]
        return [c for c in chosen if not any(fnmatch.fnmatchcase(c, pat) for pat in self.exclude)]


DEFAULT_PROFILE = Profile(name="default", chain=("default",))


def _key_text(loc: Sequence[Any]) -> str:
    """``("layers", "poi", "crs")`` -> ``[layers.poi] crs``."""
    parts = [str(p) for p in loc]
    if len(parts) <= 1:
        return parts[0] if parts else "(top level)"
    table = ".".join(f'"{p}"' if not re.fullmatch(r"[A-Za-z0-9_-]+", p) else p for p in parts[:-1])
    return f"[{table}] {parts[-1]}"


def _line_of(text: str, loc: Sequence[Any]) -> int | None:
    """Best-effort line number of a key in the TOML text (tomllib keeps no positions)."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if not parts:
        return None
    lines = text.splitlines()

    def header_line(table: Sequence[str], prefix: bool = False) -> int | None:
        end = r"\s*[.\]]" if prefix else r"\s*\]"  # prefix: [layer] or [layer.poi] for "layer"
        pattern = re.compile(
            r"^\s*\[\s*" + r"\s*\.\s*".join(rf"(?:{re.escape(t)}|\"{re.escape(t)}\")" for t in table) + end
        )
        return next((i for i, line in enumerate(lines) if pattern.match(line)), None)

    key_re = re.compile(rf"^\s*(?:{re.escape(parts[-1])}|\"{re.escape(parts[-1])}\")\s*=")
    for split in range(len(parts) - 1, 0, -1):
        start = header_line(parts[:split])
        if start is None:
            continue
        rest = parts[split:]
        if len(rest) == 1:
            for i in range(start + 1, len(lines)):
                if lines[i].lstrip().startswith("["):
                    break
                if key_re.match(lines[i]):
                    return i + 1
        return start + 1
    if len(parts) == 1:
        found = next((i + 1 for i, line in enumerate(lines) if key_re.match(line)), None)
        if found is None:
            header = header_line(parts, prefix=True)
            found = None if header is None else header + 1
        return found
    return None


class Project:
    """A loaded project: the validated file plus where it lives.

    Use :meth:`load` for a ``twin.toml`` and :meth:`for_source` to check a CityGML file or tileset
    directly with the default profile.
    """

    def __init__(self, config: ProjectFile, *, path: Path | None, root: Path, text: str = "") -> None:
        self.config = config
        #: The twin.toml (None for a project made from a bare source).
        self.path = path
        #: Folder relative paths are resolved against.
        self.root = root
        self._text = text
        #: CRS given on the command line (``--crs``); wins over the file.
        self.crs_override: str | None = None

    # --- construction ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | PathLike[str]) -> Project:
        """Read and validate a ``twin.toml`` (or the one in a folder).

        Raises
        ------
        ConfigError
            when the file is missing, not TOML, or a key is unknown or has a bad value; the message
            names the file, the key and the line.
        """
        p = Path(path)
        if p.is_dir():
            p = p / PROJECT_FILE_NAME
        if not p.is_file():
            raise ConfigError("project file not found", path=p, hint="create one with `cim-twin init DIR`")
        try:
            raw = p.read_bytes()
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"project file is not UTF-8 ({exc.reason} at byte {exc.start})", path=p) from exc
        except OSError as exc:
            raise ConfigError(f"cannot read project file: {exc.strerror}", path=p) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
            raise ConfigError(f"not valid TOML: {message}", path=p, line=line, column=col) from exc
        return cls.from_dict(data, path=p.resolve(), text=text)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: Path | None = None, root: Path | None = None,
                  text: str = "") -> Project:
        """Validate already-parsed project data (``path`` is used in messages and for relative paths)."""
        try:
            config = ProjectFile.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = tuple(err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                known = _known_keys(loc[:-1])
                close = difflib.get_close_matches(str(loc[-1]), known, n=1)
                message = f"unknown key {str(loc[-1])!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                hint = f"keys allowed here: {', '.join(known)}" if known else "see docs/project-file.md"
            else:
                hint = "see docs/project-file.md"
            more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
            raise ConfigError(
                f"{_key_text(loc)}: {message}{more}", path=path, line=_line_of(text, loc), hint=hint
            ) from exc
        project = cls(config, path=path, root=root or (path.parent if path else Path.cwd()), text=text)
        project._check_profiles()
        return project

    @classmethod
    def for_source(cls, source: str | PathLike[str], *, output: str | PathLike[str] | None = None,
                   crs: str | None = None) -> Project:
        """A project for a bare CityGML file or tileset: default profile, no layers, no catalog;
        results go to ``output`` (default ``./cim-twin-out``)."""
        src = Path(source).resolve()
        out = Path(output) if output is not None else Path.cwd() / "cim-twin-out"
        name = src.parent.name if src.name.lower() == "tileset.json" else src.name.split(".")[0]
        config = ProjectFile(
            project=ProjectSection(name=name, crs=crs, catalog=None, output=str(out.resolve())),
            scene=SceneSection(sources=[str(src)]),
        )
        return cls(config, path=None, root=src.parent)

    # --- parts ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.project.name

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.config.project.timezone)

    def period(self, override: int | str | None = None) -> Period:
        """The run's period: ``override`` (``--period``) else ``[project] period`` else this year."""
        from datetime import datetime

        value = override if override is not None else self.config.project.period
        if value is None:
            value = datetime.now(self.timezone).year
        try:
            year = int(value)
            if not 1800 <= year <= 2200:
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"period must be a year such as 2025, not {value!r}",
                              path=self.path, hint="--period 2025") from None
        return Period.year(year, self.timezone)

    def resolve(self, text: str, period: Period | int | str | None = None) -> Path:
        """A path of the project file resolved against its folder, ``{period}`` substituted
        (``period`` a :class:`Period` or a year such as ``2025``)."""
        if period is not None:
            label = period.label if isinstance(period, Period) else str(period)
            text = text.replace("{period}", label).replace("{year}", label)
        p = Path(text).expanduser()
        return p if p.is_absolute() else self.root / p

    def sources(self, period: Period | int | str | None = None) -> list[Path]:
        """The scene files of ``[scene] sources`` (globs expanded, sorted).

        Raises
        ------
        ConfigError
            naming ``[scene] sources`` when there are none or a path matches nothing.
        """
        entries = self.config.scene.sources
        if not entries:
            raise ConfigError("[scene] sources: no scene sources given", path=self.path,
                              line=_line_of(self._text, ("scene", "sources")),
                              hint='sources = ["city_{period}.gml"]')
        found: list[Path] = []
        for entry in entries:
            p = self.resolve(entry, period)
            if glob.has_magic(str(p)):
                matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True))
                if not matches:
                    raise ConfigError(f"[scene] sources: {entry!r} matches no file", path=self.path,
                                      line=_line_of(self._text, ("scene", "sources")),
                                      hint=f"looked for {p}")
                found.extend(matches)
            elif p.exists():
                found.append(p)
            else:
                raise ConfigError(f"[scene] sources: file not found: {p}", path=self.path,
                                  line=_line_of(self._text, ("scene", "sources")),
                                  hint="paths are relative to the project file; {period} is the run's year")
        return list(dict.fromkeys(found))

    @property
    def scene_crs(self) -> str | None:
        """CRS override for the sources (``--crs``, else ``[scene] crs``, else ``[project] crs``)."""
        return self.crs_override or self.config.scene.crs or self.config.project.crs

    def layer_path(self, name: str, period: Period | None = None) -> Path:
        return self.resolve(self.config.layers[name].path, period)

    def check_layer_files(self, period: Period | None = None) -> list[str]:
        """Raise for a missing required layer file; return the names of missing optional ones."""
        skipped = []
        for name, layer in self.config.layers.items():
            p = self.layer_path(name, period)
            if p.exists():
                continue
            if layer.required:
                raise ConfigError(f"[layers.{name}] path: file not found: {p}", path=self.path,
                                  line=_line_of(self._text, ("layers", name, "path")),
                                  hint="paths are relative to the project file; set required = false "
                                  "for a layer that some periods lack")
            skipped.append(name)
        return skipped

    @property
    def catalog_path(self) -> Path | None:
        cat = self.config.project.catalog
        return None if not cat else self.resolve(cat)

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.config.project.output)

    def plugin_paths(self) -> list[Path]:
        return [self.resolve(p) for p in self.config.plugins.paths]

    # --- profiles ------------------------------------------------------------------------------
    @property
    def profile_names(self) -> list[str]:
        main = self.config.profile.name or "default"
        return [main, *[n for n in self.config.profiles if n != main]]

    def profile(self, name: str | None = None) -> Profile:
        """The profile ``name`` (default: ``[profile]``) with its ``extends`` chain merged: the
        child's indicator list replaces the parent's, exclusions add up, thresholds and options
        are merged per indicator and key.

        Raises
        ------
        ConfigError
            for an unknown profile name or a cycle of ``extends``.
        """
        main_name = self.config.profile.name or "default"
        chain: list[tuple[str, ProfileSection]] = []
        current: str | None = name or main_name
        while current is not None:
            if any(current == n for n, _ in chain):
                raise ConfigError(f"[profiles.{chain[-1][0]}] extends: cycle through {current!r}", path=self.path,
                                  line=_line_of(self._text, ("profiles", chain[-1][0], "extends")))
            if current in self.config.profiles:
                section = self.config.profiles[current]
            elif current == main_name:
                section = self.config.profile
            else:
                known = ", ".join(self.profile_names)
                key = f"[profiles.{chain[-1][0]}] extends" if chain else "profile"
                raise ConfigError(f"{key}: unknown profile {current!r}", path=self.path,
                                  hint=f"profiles in this file: {known}")
            chain.append((current, section))
            # A named [profiles.X] without extends builds on [profile], the city profile.
            if section.extends is not None:
                current = section.extends
            elif current != main_name and section is not self.config.profile:
                current = main_name
            else:
                current = None
        indicators: tuple[str, ...] = ("*",)
        exclude: list[str] = []
        thresholds: dict[str, dict[str, float]] = {}
        options: dict[str, dict[str, Any]] = {}
        for _, section in reversed(chain):
            if section.indicators is not None:
                indicators = tuple(section.indicators)
            exclude.extend(section.exclude)
            for code, values in section.thresholds.items():
                thresholds.setdefault(code, {}).update(values)
            for code, values in section.options.items():
                options.setdefault(code, {}).update(values)
        return Profile(name=chain[0][0], indicators=indicators, exclude=tuple(dict.fromkeys(exclude)),
                       thresholds=thresholds, options=options, chain=tuple(n for n, _ in reversed(chain)))

    def _check_profiles(self) -> None:
        for name in self.profile_names:
            self.profile(name)

    def check_indicator_codes(self, profile: Profile, known: Iterable[str]) -> None:
        """Every code named in the profile (list, exclusions, thresholds, options) must be a
        registered indicator.

        Raises
        ------
        ConfigError
            naming the key and suggesting the closest registered code.
        """
        import fnmatch

        known_codes = sorted(known)
        for section_name in profile.chain:
            section = self.config.profiles.get(section_name) or self.config.profile
            table = ("profiles", section_name) if section_name in self.config.profiles else ("profile",)
            named = [("indicators", c) for c in (section.indicators or [])]
            named += [("exclude", c) for c in section.exclude]
            named += [("thresholds", c) for c in section.thresholds]
            named += [("options", c) for c in section.options]
            for key, code in named:
                if any(fnmatch.fnmatchcase(k, code) for k in known_codes) or (code == "*" and key == "indicators"):
                    continue
                close = difflib.get_close_matches(code, known_codes, n=1)
                where = ".".join(table)
                key_text = f"[{where}] {key}" if key in ("indicators", "exclude") else f'[{where}.{key}."{code}"]'
                raise ConfigError(
                    f"{key_text}: unknown indicator {code!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                    path=self.path, line=_line_of(self._text, (*table, key)),
                    hint="`cim-twin indicators` lists the registered indicators",
                )


def _known_keys(loc: Sequence[Any]) -> list[str]:
    """Keys allowed at a place of the file (for 'did you mean')."""
    model: Any = ProjectFile
    for part in loc:
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            # dict of sections ([layers.NAME], [profiles.NAME])
            if model in (LayerConfig, ProfileSection):
                continue
            return []
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), annotation)
    return sorted(getattr(model, "model_fields", {}))


def find_project_file(source: str | PathLike[str]) -> Path | None:
    """The twin.toml that ``source`` means: the file itself, or one inside a folder."""
    p = Path(source)
    if p.is_file() and p.suffix.lower() == ".toml":
        return p
    if p.is_dir() and (p / PROJECT_FILE_NAME).is_file():
        return p / PROJECT_FILE_NAME
    return None

