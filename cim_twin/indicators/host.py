"""The plugin host: loads entry points of group ``cim_twin`` on first use and keeps the registries.

Environment variables, for operators:

``CIM_TWIN_PLUGINS``
    Comma-separated plugin names: load only these (the built-in readers always load).
``CIM_TWIN_DISABLE_PLUGINS``
    Comma-separated plugin names never to load.
``CIM_TWIN_TRACE_PLUGINS``
    Set to 1 to print every hook call and its result on stderr.
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from ..errors import PluginError
from . import hookspecs

if TYPE_CHECKING:
    from ..io.registry import ExporterSpec, ReaderSpec
    from .api import Indicator

__all__ = ["PluginHost", "PluginInfo", "get_host", "reset_host"]

ENTRY_POINT_GROUP = "cim_twin"
#: Plugins that make cim_twin work at all; ``CIM_TWIN_PLUGINS`` cannot leave them out.
ESSENTIAL_PLUGINS = frozenset({"citygml", "tiles3d"})


@dataclass
class PluginInfo:
    """What the host knows about one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    origin: str = "entry point"
    #: The file the plugin module was loaded from (None until loaded).
    location: str | None = None
    status: str = "loaded"  # loaded | disabled | failed
    error: str | None = None
    indicators: list[str] = field(default_factory=list)
    readers: list[str] = field(default_factory=list)
    exporters: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "origin": self.origin,
            "location": self.location,
            "status": self.status,
            "error": self.error,
            "indicators": self.indicators,
            "readers": self.readers,
            "exporters": self.exporters,
        }


def _names_from_env(var: str) -> set[str] | None:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


class PluginHost:
    """Registries of indicators, readers and exporters, filled by the plugins' hooks.

    Nothing is discovered until :meth:`load` (called by :func:`get_host`).
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.indicators: dict[str, Indicator] = {}
        self.readers: dict[str, ReaderSpec] = {}
        self.exporters: dict[str, ExporterSpec] = {}
        self.loaded = False
        self.tracing = False
        self._undo_trace: Callable[[], None] | None = None

    # --- loading ---------------------------------------------------------------------------------
    def load(self, *, entry_points: bool = True) -> PluginHost:
        """Load plugins from entry points (unless told not to) and run the register hooks."""
        if self.loaded:
            return self
        if os.environ.get("CIM_TWIN_TRACE_PLUGINS", "").strip() not in ("", "0", "false", "no"):
            self._enable_trace()
        if entry_points:
            self._load_entry_points()
        self.loaded = True
        return self

    def _enable_trace(self) -> None:
        def before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            names = ", ".join(self.pm.get_name(i.plugin) or "?" for i in hook_impls)
            print(f"[cim_twin plugins] {hook_name} -> {names}", file=sys.stderr)

        def after(outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            exc = outcome.exception
            status = f"raised {exc!r}" if exc else "ok"
            print(f"[cim_twin plugins] {hook_name} {status}", file=sys.stderr)

        self._undo_trace = self.pm.add_hookcall_monitoring(before, after)
        self.tracing = True

    def _trace(self, message: str) -> None:
        if getattr(self, "tracing", False):
            print(f"[cim_twin plugins] {message}", file=sys.stderr)

    def _load_entry_points(self) -> None:
        only = _names_from_env("CIM_TWIN_PLUGINS")
        disabled = _names_from_env("CIM_TWIN_DISABLE_PLUGINS") or set()
        if only is not None or disabled:
            self._trace(f"CIM_TWIN_PLUGINS={sorted(only) if only is not None else '(all)'} "
                        f"CIM_TWIN_DISABLE_PLUGINS={sorted(disabled)}")
        seen: set[str] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                origin=f"entry point in {dist.metadata['Name']}" if dist is not None else "entry point",
            )
            self.plugins[ep.name] = info
            if ep.name in disabled or (only is not None and ep.name not in only and ep.name not in ESSENTIAL_PLUGINS):
                info.status = "disabled"
                info.error = "disabled by " + ("CIM_TWIN_DISABLE_PLUGINS" if ep.name in disabled else "CIM_TWIN_PLUGINS")
                self._trace(f"entry point {ep.name}: {info.error}")
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin never stops the others
                info.status, info.error = "failed", f"import failed: {exc!r}\n{traceback.format_exc(limit=8)}"
                self._trace(f"entry point {ep.name} = {ep.value}: import failed: {exc!r}")
                continue
            info.location = getattr(module, "__file__", None)
            self._trace(f"entry point {ep.name} = {ep.value} loaded from {info.location or '?'}")
            try:
                self.register_plugin(module, name=ep.name, info=info)
            except PluginError as exc:
                # Recorded on the PluginInfo (shown by `cim-twin plugins`, warned about by `check`);
                # the other plugins still load.
                self._trace(str(exc))

    def register_plugin(self, plugin: ModuleType | object, *, name: str, info: PluginInfo | None = None) -> PluginInfo:
        """Register a plugin object (a module or an instance with hook implementations) and run
        its register hooks. Used for entry points and by tests for in-process plugins."""
        info = info or PluginInfo(name=name, module=getattr(plugin, "__name__", type(plugin).__name__), origin="registered in process")
        self.plugins[name] = info
        if info.location is None:
            info.location = getattr(plugin, "__file__", None) or getattr(type(plugin), "__module__", None)
        try:
            self.pm.register(plugin, name=name)
            # A misspelled hook (register_indicator) fails loudly instead of being ignored.
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            info.status, info.error = "failed", str(exc)
            hooks = sorted(n for n in dir(hookspecs) if n.startswith("register_"))
            wrong = [n for n in dir(plugin) if n.startswith("register") and n not in hooks
                     and callable(getattr(plugin, n, None))]
            close = [m for n in wrong for m in difflib.get_close_matches(n, hooks, n=1)]
            raise PluginError(
                f"plugin {name!r} has an invalid hook: {exc}",
                hint=(f"did you mean {close[0]}? " if close else "") + "hook names are " + ", ".join(hooks),
            ) from exc
        caller = self.pm.subset_hook_caller  # call only this plugin's implementations
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        try:
            caller("register_readers", others)(register=lambda spec: self._add_reader(spec, info))
            caller("register_exporters", others)(register=lambda spec: self._add_exporter(spec, info))
            caller("register_indicators", others)(register=lambda ind: self._add_indicator(ind, info))
        except PluginError as exc:
            info.status, info.error = "failed", str(exc)
        except Exception as exc:
            info.status = "failed"
            info.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        if info.status == "failed":
            self._withdraw(info)
        return info

    def _withdraw(self, info: PluginInfo) -> None:
        """Forget what a plugin registered before it failed, so that nothing half-registered runs."""
        for code in info.indicators:
            self.indicators.pop(code, None)
        for reader in info.readers:
            self.readers.pop(reader, None)
        for exporter in info.exporters:
            self.exporters.pop(exporter, None)
        info.indicators, info.readers, info.exporters = [], [], []

    # --- registries ------------------------------------------------------------------------------
    def _add_reader(self, spec: ReaderSpec, info: PluginInfo) -> None:
        if spec.name in self.readers:
            raise PluginError(f"reader {spec.name!r} is already registered by {self.readers[spec.name].plugin!r}")
        object.__setattr__(spec, "plugin", info.name)
        self.readers[spec.name] = spec
        info.readers.append(spec.name)

    def _add_exporter(self, spec: ExporterSpec, info: PluginInfo) -> None:
        if spec.name in self.exporters:
            raise PluginError(f"exporter {spec.name!r} is already registered by {self.exporters[spec.name].plugin!r}")
        object.__setattr__(spec, "plugin", info.name)
        self.exporters[spec.name] = spec
        info.exporters.append(spec.name)

    def _add_indicator(self, indicator: Indicator, info: PluginInfo) -> None:
        from ..model import IndicatorSpec
        from .api import Indicator

        if isinstance(indicator, type) and issubclass(indicator, Indicator):
            raise PluginError(
                f"plugin {info.name!r} registered the class {indicator.__name__}, not an instance",
                hint=f"register({indicator.__name__}())",
            )
        if not isinstance(indicator, Indicator):
            raise PluginError(
                f"plugin {info.name!r} registered {indicator!r}, which is not an Indicator",
                hint="register(MyIndicator()) with a subclass of cim_twin.plugins.Indicator",
            )
        if not isinstance(getattr(indicator, "spec", None), IndicatorSpec):
            raise PluginError(
                f"plugin {info.name!r}: {type(indicator).__name__} has no spec",
                hint="set spec = IndicatorSpec(code=..., ...) on the class",
            )
        if type(indicator).evaluate is Indicator.evaluate:
            raise PluginError(
                f"plugin {info.name!r}: {type(indicator).__name__} does not implement evaluate(ctx)",
                hint="def evaluate(self, ctx): yield ctx.problem(self, obj, ...)",
            )
        code = indicator.spec.code
        if code in self.indicators:
            owner = getattr(self.indicators[code], "plugin_name", "?")
            raise PluginError(f"indicator {code!r} is already registered by plugin {owner!r}")
        indicator.plugin_name = info.name
        self.indicators[code] = indicator
        info.indicators.append(code)


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide host, loading plugins on first call."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost().load()
    return _HOST


def reset_host(host: PluginHost | None = None) -> None:
    """Replace (or forget) the process-wide host; tests use this for a fresh discovery."""
    global _HOST
    _HOST = host
