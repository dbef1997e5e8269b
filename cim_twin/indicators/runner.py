"""The check runner: one health-check run over a project for one period.

Loads the scene and the layers once, evaluates every selected indicator in isolation, fills the
findings' places (lon/lat/height, spatial unit) for all of them at once, writes the run as JSON and
hands it to the catalog.

Isolation
---------
Each indicator runs in a **forked child process** (``isolation = "process"``, the default where
``os.fork`` exists): the child inherits the loaded scene and layers copy-on-write, evaluates, and
sends its findings and measurements back through a pipe. An exception is recorded with its
traceback; a child that passes the per-indicator deadline is killed and recorded as ``timeout``;
a child that dies (segfault in a C extension, ``os._exit``) is recorded as ``failed``. Nothing an
indicator does can stop the others or the run.

Where fork is unavailable (Windows) the runner falls back to a **thread** per indicator with a
deadline (``isolation = "thread"``): exceptions and timeouts are recorded the same way, but a hung
thread cannot be killed; it is left behind as a daemon thread and the run completes without it.
``isolation = "inline"`` evaluates in the calling thread (for debuggers; no timeout).

What indicators share (the alive buildings, spatial indexes, and whatever each indicator's
``prepare(ctx)`` caches) is computed once in the parent before the first fork, so that children
inherit it instead of each recomputing it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import CimTwinError, ConfigError, LoadWarning
from ..gc_control import frozen_for_fork, gc_paused
from ..model import CheckRun, IndicatorRunStatus, IndicatorSpec, Measurement, Period, ProblemPoint
from .api import CheckContext, Indicator, MissingDataError

if TYPE_CHECKING:
    from ..project import Project
    from ..scene import Scene
    from .host import PluginHost

__all__ = [
    "CheckResult",
    "IndicatorOutcome",
    "evaluate_indicator",
    "fingerprint",
    "make_run_id",
    "place_findings",
    "plan_check",
    "run_check",
]

Isolation = Literal["auto", "process", "thread", "inline"]
#: Load warnings of the city model copied into a run record (the rest are counted).
MAX_SCENE_WARNINGS = 20
#: A child still running this long after its deadline ends itself (if the parent could not kill it).
ORPHAN_GRACE_S = 5.0


@dataclass
class IndicatorOutcome:
    """What one indicator produced, and how it went."""

    code: str
    status: Literal["ok", "failed", "timeout", "skipped"]
    findings: list[ProblemPoint] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None

    def to_status(self) -> IndicatorRunStatus:
        return IndicatorRunStatus(status=self.status, findings=len(self.findings),
                                  measurements=len(self.measurements), seconds=round(self.seconds, 3),
                                  error=self.error, traceback=self.traceback)


@dataclass
class CheckResult:
    """A finished run: the :class:`~cim_twin.model.CheckRun` record, its findings and measurements,
    and where they were written."""

    run: CheckRun
    findings: list[ProblemPoint]
    measurements: list[Measurement]
    run_dir: Path | None = None
    catalog_path: Path | None = None
    catalog_error: str | None = None
    warnings: list[LoadWarning] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.run.status != "ok"

    def summary(self) -> dict[str, Any]:
        """The ``cim-twin check --json`` object."""
        return {
            "run_id": self.run.id,
            "status": self.run.status,
            "period": self.run.period,
            "profile": self.run.profile,
            "indicators": {
                code: {"status": st.status, "findings": st.findings, "measurements": st.measurements,
                       "seconds": st.seconds, "error": st.error}
                for code, st in self.run.indicators.items()
            },
            "findings": len(self.findings),
            "measurements": len(self.measurements),
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "findings_file": None if self.run_dir is None else str(self.run_dir / "findings.json"),
            "measurements_file": None if self.run_dir is None else str(self.run_dir / "measurements.json"),
            "catalog": None if self.catalog_path is None else str(self.catalog_path),
            "catalog_error": self.catalog_error,
            "warnings": [str(w) for w in self.warnings],
        }


# --- evaluation of one indicator -----------------------------------------------------------------
def _fresh_context(ctx: CheckContext) -> CheckContext:
    """A shallow copy with its own result lists, so one indicator never sees another's output."""
    mine = copy.copy(ctx)
    mine.measurements = []
    mine.warnings = []
    return mine


def _evaluate_here(indicator: Indicator, ctx: CheckContext) -> IndicatorOutcome:
    code = indicator.spec.code
    mine = _fresh_context(ctx)
    start = time.perf_counter()
    try:
        results = indicator.evaluate(mine)
        findings: list[ProblemPoint] = []
        for item in results or ():
            if not isinstance(item, ProblemPoint):
                raise TypeError(f"evaluate() yielded {type(item).__name__}, not a ProblemPoint "
                                "(make findings with ctx.problem(...))")
            findings.append(item)
    except MissingDataError as exc:
        return IndicatorOutcome(code, "skipped", warnings=mine.warnings, seconds=time.perf_counter() - start,
                                error=str(exc))
    except Exception as exc:
        return IndicatorOutcome(code, "failed", warnings=mine.warnings, seconds=time.perf_counter() - start,
                                error=_one_line(exc), traceback=traceback.format_exc())
    return IndicatorOutcome(code, "ok", findings, mine.measurements, mine.warnings, time.perf_counter() - start)


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, CimTwinError) else f"{type(exc).__name__}: {exc}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


@dataclass
class _Child:
    """One forked evaluation in flight."""

    code: str
    pid: int
    fd: int
    deadline: float
    started: float
    timeout_s: float
    chunks: list[bytes] = field(default_factory=list)


def _spawn(indicator: Indicator, ctx: CheckContext, timeout_s: float) -> _Child:
    """Fork a child that evaluates ``indicator`` and writes its pickled outcome to a pipe."""
    code = indicator.spec.code
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()  # else the child would flush the parent's buffered output a second time
    sys.stderr.flush()
    started = time.perf_counter()
    parent = os.getpid()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "fork in a multi-threaded process" (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (coverage cannot follow)
        code_out = 0
        try:
            os.close(read_fd)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _start_orphan_watchdog(parent, time.monotonic() + timeout_s + ORPHAN_GRACE_S)
            outcome = _evaluate_here(indicator, ctx)
            try:
                payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                payload = pickle.dumps(IndicatorOutcome(
                    code, "failed", seconds=outcome.seconds,
                    error=f"results cannot be sent back: {_one_line(exc)} (evidence must hold plain values)",
                    traceback=traceback.format_exc()))
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(payload)
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            code_out = 1
        finally:
            os._exit(code_out)
    os.close(write_fd)
    return _Child(code, pid, read_fd, time.monotonic() + timeout_s, started, timeout_s)


def _start_orphan_watchdog(parent: int, deadline: float) -> None:  # pragma: no cover - child only
    """In the child: end this process if the parent is gone (killed with SIGKILL, so it could not
    kill us) or well past the deadline, so that no hung indicator outlives its run."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent or time.monotonic() > deadline:
                os._exit(3)

    threading.Thread(target=watch, name="orphan-watchdog", daemon=True).start()


def _finish(child: _Child, *, timed_out: bool) -> IndicatorOutcome:
    """Reap a child (killing it first when it timed out) and turn what it sent into an outcome."""
    os.close(child.fd)
    if timed_out:
        _kill(child.pid)
    _, status = os.waitpid(child.pid, 0)
    seconds = time.perf_counter() - child.started
    if timed_out:
        return IndicatorOutcome(child.code, "timeout", seconds=seconds,
                                error=f"timed out after {child.timeout_s:g} s (killed)")
    if not child.chunks:
        how = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.WEXITSTATUS(status)}")
        return IndicatorOutcome(child.code, "failed", seconds=seconds,
                                error=f"the indicator's process ended without a result ({how})")
    try:
        with gc_paused():  # many small frozen models, no cycles
            received: IndicatorOutcome = pickle.loads(b"".join(child.chunks))
    except Exception as exc:  # truncated payload: the child died while writing
        return IndicatorOutcome(child.code, "failed", seconds=seconds,
                                error=f"the indicator's result could not be read back: {_one_line(exc)}")
    return received


def _evaluate_forked(indicators: Sequence[Indicator], ctx: CheckContext, timeout_s: Callable[[str], float],
                     jobs: int, on_done: Callable[[IndicatorOutcome], None]) -> None:
    """Evaluate ``indicators`` in forked children, at most ``jobs`` at a time, each with its own
    deadline; ``on_done`` gets each outcome as it completes. On any interruption (Ctrl-C) every
    child still running is killed. The children fork from a frozen heap: their collections then
    never walk (and copy) the scene they share with this process."""
    with frozen_for_fork():
        _run_forked(indicators, ctx, timeout_s, jobs, on_done)


def _run_forked(indicators: Sequence[Indicator], ctx: CheckContext, timeout_s: Callable[[str], float],
                jobs: int, on_done: Callable[[IndicatorOutcome], None]) -> None:
    waiting = list(indicators)
    running: dict[int, _Child] = {}
    previous_term = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a scheduler stopping the run) ends the run like Ctrl-C: children are killed below
        previous_term = signal.signal(signal.SIGTERM, _terminated)
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                indicator = waiting.pop(0)
                child = _spawn(indicator, ctx, timeout_s(indicator.spec.code))
                running[child.fd] = child
            now = time.monotonic()
            for child in [c for c in running.values() if c.deadline <= now]:
                del running[child.fd]
                on_done(_finish(child, timed_out=True))
            if not running:
                continue
            wait = max(0.0, min(c.deadline for c in running.values()) - time.monotonic())
            ready, _, _ = select.select(list(running), [], [], wait)
            for fd in ready:
                child = running[fd]
                data = os.read(fd, 1 << 20)
                if data:
                    child.chunks.append(data)
                    continue
                del running[fd]
                on_done(_finish(child, timed_out=False))
    finally:
        for child in running.values():
            _kill(child.pid)
            with contextlib.suppress(OSError):
                os.close(child.fd)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


def _terminated(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def _evaluate_in_child(indicator: Indicator, ctx: CheckContext, timeout_s: float) -> IndicatorOutcome:
    box: list[IndicatorOutcome] = []
    _evaluate_forked([indicator], ctx, lambda _code: timeout_s, 1, box.append)
    return box[0]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _evaluate_in_thread(indicator: Indicator, ctx: CheckContext, timeout_s: float) -> IndicatorOutcome:
    box: list[IndicatorOutcome] = []
    start = time.perf_counter()
    worker = threading.Thread(target=lambda: box.append(_evaluate_here(indicator, ctx)),
                              name=f"indicator-{indicator.spec.code}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive() or not box:
        return IndicatorOutcome(indicator.spec.code, "timeout", seconds=time.perf_counter() - start,
                                error=f"timed out after {timeout_s:g} s (thread left running)")
    return box[0]


def resolve_isolation(isolation: Isolation) -> Literal["process", "thread", "inline"]:
    if isolation == "auto":
        return "process" if hasattr(os, "fork") else "thread"
    if isolation == "process" and not hasattr(os, "fork"):
        return "thread"
    return isolation


def evaluate_indicator(indicator: Indicator, ctx: CheckContext, *, timeout_s: float = 600.0,
                       isolation: Isolation = "auto") -> IndicatorOutcome:
    """Evaluate one indicator, isolated: never raises for what the indicator does.

    Parameters
    ----------
    indicator, ctx:
        The indicator and the run's context (not modified: the indicator gets a copy with its own
        measurement list).
    timeout_s:
        Deadline of this indicator; past it the indicator is recorded as ``timeout``.
    isolation:
        ``process`` (fork), ``thread``, ``inline`` or ``auto`` (see the module docstring).
    """
    mode = resolve_isolation(isolation)
    if mode == "process":
        return _evaluate_in_child(indicator, ctx, timeout_s)
    if mode == "thread":
        return _evaluate_in_thread(indicator, ctx, timeout_s)
    return _evaluate_here(indicator, ctx)


# --- placing findings ----------------------------------------------------------------------------
#: How far (m) outside every spatial unit a finding may lie and still be given the nearest one.
NEAREST_UNIT_MAX_M = 250.0


def place_findings(findings: Sequence[ProblemPoint], ctx: CheckContext) -> list[ProblemPoint]:
    """Fill lon/lat/ellipsoidal height (one transform for all findings) and the spatial unit of
    findings that have none (one index query per unit level, finest level first)."""
    if not findings:
        return []
    xyz = np.array([(f.x, f.y, f.z) for f in findings], dtype=np.float64)
    crs = ctx.scene.crs
    lon = lat = height = None
    if crs is not None and not crs.is_local:
        if len(xyz) == 1:  # pyproj's one-point path warns on 1-element arrays (numpy >= 1.25)
            one = crs.to_wgs84(float(xyz[0, 0]), float(xyz[0, 1]), float(xyz[0, 2]))  # type: ignore[arg-type]
            lon, lat, height = (np.atleast_1d(v) for v in one)
        else:
            lon, lat, height = crs.to_wgs84(xyz[:, 0], xyz[:, 1], xyz[:, 2])
    units = np.array([f.unit_id for f in findings], dtype=object)
    for level in ctx.unit_levels:
        missing = np.flatnonzero(units == None)  # noqa: E711 - elementwise on an object array
        if not len(missing):
            break
        units[missing] = ctx.unit_ids_at(xyz[missing, :2], level)
    # A finding outside every unit (a street between two blocks, a site just beyond the edge)
    # belongs to the nearest unit of the finest level, so that it reaches a district's lists; its
    # evidence says so. Beyond NEAREST_UNIT_MAX_M it stays without a unit.
    nearest_m = np.full(len(findings), np.nan)
    missing = np.flatnonzero(units == None)  # noqa: E711
    if len(missing) and ctx.unit_levels:
        found, dist = ctx.nearest_unit_ids(xyz[missing, :2], ctx.unit_levels[0], NEAREST_UNIT_MAX_M)
        units[missing] = found
        nearest_m[missing] = dist
    out = []
    for i, f in enumerate(findings):
        update: dict[str, Any] = {}
        if f.unit_id is None and units[i] is not None and np.isfinite(nearest_m[i]):
            update["evidence"] = {**f.evidence, "unit_assigned": "nearest", "unit_distance_m": round(float(nearest_m[i]), 1)}
        if lon is not None and f.lon is None and np.isfinite(lon[i]):
            update.update(lon=round(float(lon[i]), 9), lat=round(float(lat[i]), 9),  # type: ignore[index]
                          height=round(float(height[i]), 4))  # type: ignore[index]
        if f.unit_id is None and units[i] is not None:
            update["unit_id"] = str(units[i])
        out.append(f.model_copy(update=update) if update else f)
    return out


# --- inputs and ids -------------------------------------------------------------------------------
def fingerprint(path: Path, *, chunk: int = 1 << 20) -> str:
    """``sha256:<hex>`` of a file, streamed; for a tileset folder, of its tileset.json."""
    target = path / "tileset.json" if path.is_dir() else path
    digest = hashlib.sha256()
    with open(target, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def make_run_id(period: Period, started_at: datetime, inputs: dict[str, str], selection: Iterable[str],
                profile: str) -> str:
    """``<period>-<UTC yyyymmddThhmmssZ>-<8 hex of inputs, profile and indicators>``: sorts by period
    then time; the hash tells runs over different inputs apart at a glance."""
    h = hashlib.sha256()
    for key in sorted(inputs):
        h.update(f"{key}={inputs[key]}\n".encode())
    h.update(f"profile={profile}\nindicators={','.join(sorted(selection))}".encode())
    stamp = started_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{period.label}-{stamp}-{h.hexdigest()[:8]}"


def _input_key(path: Path, project: Project) -> str:
    try:
        return path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


# --- the run ------------------------------------------------------------------------------------------
def load_scene(project: Project, period: Period, sources: Sequence[Path] | None = None) -> Scene:
    """Read every source of the project into one scene (CRS of the first; the others must match)."""
    from ..errors import CRSError
    from ..io import read_scene

    paths = list(sources) if sources is not None else project.sources(period)
    options = dict(project.config.scene.options)
    crs = project.scene_crs
    if crs:
        options["crs"] = crs
    scene = read_scene(paths[0], **options)
    for path in paths[1:]:
        more = read_scene(path, **options)
        if scene.crs is not None and more.crs is not None and scene.crs.horizontal_key != more.crs.horizontal_key:
            raise CRSError(f"source is in {more.crs.name}, the first source in {scene.crs.name}", path=path,
                           hint="give [scene] crs so that every source is read into one CRS")
        for root in list(more.roots):
            scene.add(root)
        scene.warnings.extend(more.warnings)
        scene.sources.extend(more.sources)
    if scene.epoch is None:
        # Readers do not know the survey date; the project's sources are those of the period.
        scene.epoch = period.start.date()
    return scene


def _prepare(ctx: CheckContext, indicators: Sequence[Indicator]) -> dict[str, IndicatorOutcome]:
    """Compute once, in this process and before any fork, what the indicators share: the alive
    buildings, the spatial indexes, and whatever each indicator's ``prepare`` caches. Returns the
    outcomes of indicators whose ``prepare`` failed (they are not evaluated)."""
    ctx.buildings(residential=True)  # the alive buildings and their dwelling flags, once
    _ = ctx.scene.index
    for layer in ctx.layers.values():
        if layer.kind == "units" and layer.has_geometry:
            _ = layer.tree
    failed: dict[str, IndicatorOutcome] = {}
    for indicator in indicators:
        code = indicator.spec.code
        start = time.perf_counter()
        try:
            indicator.prepare(ctx)
        except MissingDataError as exc:
            failed[code] = IndicatorOutcome(code, "skipped", seconds=time.perf_counter() - start, error=str(exc))
        except Exception as exc:
            failed[code] = IndicatorOutcome(code, "failed", seconds=time.perf_counter() - start,
                                            error=f"prepare failed: {_one_line(exc)}",
                                            traceback=traceback.format_exc())
    return failed


def run_check(
    project: Project,
    *,
    period: int | str | None = None,
    indicators: Sequence[str] | None = None,
    profile: str | None = None,
    timeout_s: float | None = None,
    isolation: Isolation | None = None,
    host: PluginHost | None = None,
    output: Path | None = None,
    catalog: Path | Literal[False] | None = None,
    write: bool = True,
    on_indicator: Callable[[IndicatorOutcome], None] | None = None,
    scene: Scene | None = None,
    jobs: int | None = None,
) -> CheckResult:
    """Run a health check.

    Parameters
    ----------
    project:
        The loaded project (:meth:`Project.load` or :meth:`Project.for_source`).
    period:
        Year of the run (default ``[project] period``).
    indicators:
        Codes to evaluate (default: what the profile selects).
    profile:
        Profile name (default ``[profile]``).
    timeout_s, isolation:
        Per-indicator deadline and isolation mode (default ``[check]``).
    host:
        Plugin host (default the process-wide one).
    output:
        Output folder (default ``[project] output``); the run goes to ``<output>/runs/<run_id>/``.
    catalog:
        Catalog path, ``False`` for none (default ``[project] catalog``).
    write:
        Write the JSON files and the catalog (False: only return the result).
    on_indicator:
        Called after each indicator with its outcome (for progress output).
    scene:
        An already loaded scene (skips reading the sources; they are still fingerprinted).
    jobs:
        Indicators evaluated at the same time with process isolation (default ``[check] jobs``,
        1); each runs in its own forked process with its own deadline.

    Raises
    ------
    ConfigError, FormatError, CRSError, PluginError
        for user errors before evaluation starts (bad project, unknown indicator, unreadable
        source). Nothing an indicator does raises here.
    """
    from .. import __version__
    from ..io.layers import load_project_layers
    from .host import get_host

    host = host or get_host()
    the_period, the_profile, selection = _resolve(project, host, period, profile, indicators)
    settings = project.config.check
    timeout = float(timeout_s if timeout_s is not None else settings.timeout_s)
    if timeout <= 0:
        raise ConfigError(f"timeout must be positive, not {timeout:g}", hint="--timeout 600")
    for code in settings.timeouts:
        if code not in host.indicators:
            raise ConfigError(f'[check.timeouts] "{code}": unknown indicator', path=project.path,
                              hint="`cim-twin indicators` lists the registered indicators")

    def timeout_for(code: str) -> float:
        """--timeout wins; else the indicator's own [check.timeouts] entry; else [check] timeout_s."""
        return timeout if timeout_s is not None else float(settings.timeouts.get(code, timeout))
    mode = isolation or settings.isolation

    started = datetime.now(UTC)
    sources = project.sources(the_period)
    warnings_: list[LoadWarning] = [
        LoadWarning(f"plugin {p.name!r} did not load: {(p.error or '').splitlines()[0] if p.error else ''}",
                    hint="see `cim-twin plugins`")
        for p in host.plugins.values() if p.status == "failed"
    ]
    if scene is None:
        scene = load_scene(project, the_period, sources)
    if scene.warnings:
        # the first few verbatim, the rest counted: `cim-twin info` lists them all
        warnings_ += scene.warnings[:MAX_SCENE_WARNINGS]
        if len(scene.warnings) > MAX_SCENE_WARNINGS:
            warnings_.append(LoadWarning(f"{len(scene.warnings) - MAX_SCENE_WARNINGS} more load warnings in the city "
                                         "model", hint="`cim-twin info SOURCE` lists them all"))
    layers, layer_warnings = load_project_layers(project, the_period, scene.crs, scene.extent())
    warnings_ += layer_warnings
    inputs = {_input_key(p, project): fingerprint(p) for p in sources}
    for name in layers:
        inputs[_input_key(project.layer_path(name, the_period), project)] = fingerprint(
            project.layer_path(name, the_period))
    run_id = make_run_id(the_period, started, inputs, selection, the_profile.name)

    ctx = CheckContext(scene, period=the_period, layers=layers, thresholds=the_profile.thresholds,
                       options=the_profile.options, run_id=run_id, profile=the_profile.name)
    # shared data (e.g. a building table) computed once here, inherited by forked children
    not_prepared = _prepare(ctx, [host.indicators[code] for code in selection])

    done: dict[str, IndicatorOutcome] = {}

    def record(outcome: IndicatorOutcome) -> None:
        done[outcome.code] = outcome
        if on_indicator is not None:
            on_indicator(outcome)

    for outcome in not_prepared.values():
        record(outcome)
    todo = [host.indicators[code] for code in selection if code not in not_prepared]
    if resolve_isolation(mode) == "process":
        _evaluate_forked(todo, ctx, timeout_for, jobs or settings.jobs, record)
    else:
        for indicator in todo:
            record(evaluate_indicator(indicator, ctx, timeout_s=timeout_for(indicator.spec.code), isolation=mode))
    outcomes = {code: done[code] for code in selection}  # the run lists them in selection order

    findings: list[ProblemPoint] = []
    seen: dict[str, str] = {}
    for code, outcome in outcomes.items():
        duplicates = 0
        for f in outcome.findings:
            if f.id in seen:
                duplicates += 1
                continue
            seen[f.id] = code
            findings.append(f)
        if duplicates:
            warnings_.append(LoadWarning(f"{duplicates} findings of {code} repeat an earlier id and were dropped",
                                         object_id=code, hint="give ctx.problem a distinct subject= per finding"))
        for wcode, message in outcome.warnings:
            warnings_.append(LoadWarning(message, object_id=wcode))
    with gc_paused():
        findings = place_findings(findings, ctx)
    findings.sort(key=lambda f: (f.indicator, f.id))
    measurements: list[Measurement] = []
    measured: set[tuple[str, str, str]] = set()
    for code, outcome in outcomes.items():
        repeated = 0
        for m in outcome.measurements:
            key = (m.indicator, m.level, m.unit_id)
            if key in measured:
                repeated += 1
                continue
            measured.add(key)
            measurements.append(m)
        if repeated:
            warnings_.append(LoadWarning(f"{repeated} measurements of {code} repeat a unit and were dropped",
                                         object_id=code, hint="measure each unit once per level"))
    measurements.sort(key=lambda m: (m.indicator, m.level, m.unit_id))

    failed = any(o.status in ("failed", "timeout") for o in outcomes.values())
    run = CheckRun(
        id=run_id,
        scope=project.name,
        period=the_period.label,
        profile=the_profile.name,
        started_at=started,
        finished_at=datetime.now(UTC),
        software_version=__version__,
        inputs=inputs,
        indicators={code: o.to_status() for code, o in outcomes.items()},
        crs=scene.crs.name if scene.crs is not None else None,
        # say what the findings' heights are: ellipsoidal only where the CRS makes them so
        notes="" if scene.crs is None or scene.crs.is_local else f"heights: {scene.crs.vertical_datum}",
        status="completed_with_failures" if failed else "ok",
        plugins={p.name: p.version or "" for p in host.plugins.values() if p.status == "loaded"},
        warnings=tuple(str(w) for w in warnings_),
    )
    result = CheckResult(run, findings, measurements, warnings=warnings_)
    if write:
        result.run_dir = write_run(result, output or project.output_dir)
        cat = project.catalog_path if catalog is None else (catalog or None)
        if cat is not None:
            result.catalog_path = cat
            specs = [host.indicators[code].spec for code in result.run.indicators]
            result.catalog_error = _write_catalog(cat, result, base_dir=project.root, specs=specs, scene=scene)
    return result


def plan_check(project: Project, *, period: int | str | None = None, indicators: Sequence[str] | None = None,
               profile: str | None = None, host: PluginHost | None = None) -> dict[str, Any]:
    """What :func:`run_check` would do, checked without reading the model or evaluating: the
    period, profile, selected indicators (with their plugins), source and layer files (missing
    optional layers listed), catalog and output. Raises the same user errors ``run_check`` would
    raise before evaluating (``cim-twin check --dry-run``)."""
    from .host import get_host

    host = host or get_host()
    the_period, the_profile, selection = _resolve(project, host, period, profile, indicators)
    for code in project.config.check.timeouts:
        if code not in host.indicators:
            raise ConfigError(f'[check.timeouts] "{code}": unknown indicator', path=project.path)
    sources = project.sources(the_period)
    missing = set(project.check_layer_files(the_period))
    return {
        "project": project.name,
        "project_file": None if project.path is None else str(project.path),
        "period": the_period.label,
        "profile": the_profile.name,
        "profile_chain": list(the_profile.chain),
        "indicators": {code: {"plugin": host.indicators[code].plugin_name,
                              "needs": list(host.indicators[code].spec.data_needed)} for code in selection},
        "sources": [str(p) for p in sources],
        "layers": {name: {"path": str(project.layer_path(name, the_period)), "kind": cfg.kind,
                          "missing": name in missing}
                   for name, cfg in project.config.layers.items()},
        "catalog": None if project.catalog_path is None else str(project.catalog_path),
        "output": str(project.output_dir),
        "failed_plugins": sorted(p.name for p in host.plugins.values() if p.status == "failed"),
    }


def _resolve(project: Project, host: PluginHost, period: int | str | None, profile: str | None,
             indicators: Sequence[str] | None) -> tuple[Period, Any, list[str]]:
    """Period, profile and selected indicator codes of a check (project plugins loaded first);
    the user errors of a bad period, profile or code are raised here, before anything is read."""
    load_project_plugins(project, host)
    the_period = project.period(period)
    the_profile = project.profile(profile)
    project.check_indicator_codes(the_profile, host.indicators)
    selection = select_indicators(the_profile.select(host.indicators) if indicators is None else indicators, host)
    return the_period, the_profile, selection


def select_indicators(codes: Iterable[str], host: PluginHost) -> list[str]:
    """Check requested codes (or patterns such as ``N-*``) against the registry, in the order
    given, duplicates dropped.

    Raises
    ------
    ConfigError
        for an unknown code (with the closest registered one) or an empty selection.
    """
    import difflib
    import fnmatch

    chosen: list[str] = []
    for raw in codes:
        code = raw.strip()
        if any(ch in code for ch in "*?["):  # a pattern such as N-* picks every match
            matches = sorted(c for c in host.indicators if fnmatch.fnmatchcase(c, code))
            if not matches:
                raise ConfigError(f"no indicator matches {code!r}",
                                  hint="`cim-twin indicators` lists the registered indicators")
            chosen.extend(matches)
        elif code:
            chosen.append(code)
    chosen = list(dict.fromkeys(chosen))
    for code in chosen:
        if code not in host.indicators:
            close = difflib.get_close_matches(code, list(host.indicators), n=1)
            raise ConfigError(
                f"unknown indicator {code!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                hint="`cim-twin indicators` lists the registered indicators",
            )
    if not chosen:
        raise ConfigError(
            f"no indicator selected ({len(host.indicators)} registered)",
            hint="install an indicator plugin, or check [profile] indicators in twin.toml",
        )
    return chosen


def load_project_plugins(project: Project, host: PluginHost) -> None:
    """Register the project's own plugins (``[plugins] modules`` and ``paths``) once."""
    import importlib
    import importlib.util

    from ..errors import PluginError

    for module_name in project.config.plugins.modules:
        if module_name in host.plugins:
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise PluginError(f"[plugins] modules: cannot import {module_name!r}: {_one_line(exc)}",
                              path=project.path) from exc
        host.register_plugin(module, name=module_name)
    for path in project.plugin_paths():
        if not path.is_file():
            raise PluginError(f"[plugins] paths: file not found: {path}", path=project.path)
        location = str(path.resolve())
        if any(info.location == location for info in host.plugins.values()):
            continue  # this file is loaded already (a second check in the same process)
        name, n = f"project:{path.stem}", 1
        while name in host.plugins:  # another project's file of the same name
            n += 1
            name = f"project:{path.stem}~{n}"
        module_name = "cim_twin_project_plugin_" + hashlib.sha1(location.encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise PluginError(f"[plugins] paths: {path.name} failed to import: {_one_line(exc)}",
                              path=path) from exc
        info = host.register_plugin(module, name=name)
        info.origin = f"project file ({path.name})"
        info.location = location


def write_run(result: CheckResult, output: Path) -> Path:
    """Write ``findings.json``, ``findings.geojson``, ``measurements.json`` and ``run.json``
    atomically into ``<output>/runs/<run_id>/``; run.json last, so a folder with run.json is
    complete."""
    from ..serialization import write_json

    runs = Path(output) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    run_dir = runs / result.run.id
    suffix = 1
    # Two runs of the same inputs within one second would share an id: the later one gets ~2, ~3...
    while True:
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            suffix += 1
            run_dir = runs / f"{result.run.id.rsplit('~', 1)[0]}~{suffix}"
    if run_dir.name != result.run.id:
        result.run = result.run.model_copy(update={"id": run_dir.name})
    findings = [f.model_dump(mode="json") for f in result.findings]
    write_json(run_dir / "findings.json", findings)
    write_json(run_dir / "findings.geojson", findings_geojson(findings), pretty=False)
    write_json(run_dir / "measurements.json", [m.model_dump(mode="json") for m in result.measurements])
    write_json(run_dir / "run.json", result.run.model_dump(mode="json"))
    return run_dir


def findings_geojson(findings: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Findings (as JSON dicts) as an RFC 7946 FeatureCollection of lon/lat/height points, to drop
    into QGIS or a web map right after a run; findings without lon/lat (local CRS) are left out."""
    features = []
    for f in findings:
        if f.get("lon") is None or f.get("lat") is None:
            continue
        props = {k: v for k, v in f.items() if k not in ("lon", "lat", "height", "evidence")}
        props["evidence"] = f.get("evidence") or {}
        coords = [f["lon"], f["lat"]] + ([f["height"]] if f.get("height") is not None else [])
        features.append({"type": "Feature", "id": f["id"], "geometry": {"type": "Point", "coordinates": coords},
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _write_catalog(path: Path, result: CheckResult, *, base_dir: Path | None = None,
                   specs: Sequence[IndicatorSpec] | None = None, scene: Scene | None = None) -> str | None:
    """Hand the run (and its buildings, so that projects and the map update need not read the
    model again) to the catalog; returns an error text instead of raising, because the run itself
    is already safe on disk."""
    try:
        from ..catalog import Catalog
        from ..catalog.buildings import building_rows
    except ImportError:
        return "the catalog is not available in this installation; the run is in the JSON files only"
    try:
        buildings = building_rows(scene) if scene is not None else None
        catalog = Catalog.open(path)
        try:
            catalog.write_run(result.run, result.findings, result.measurements, base_dir=base_dir, specs=specs,
                              buildings=buildings)  # fmt: skip
        finally:
            close = getattr(catalog, "close", None)
            if close is not None:
                close()
    except CimTwinError as exc:
        return str(exc)
    except Exception as exc:  # the run is on disk; report, don't lose it
        return f"{type(exc).__name__}: {exc}"
    return None
