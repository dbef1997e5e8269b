"""The whole health-check loop on the example district, as a new user sees it.

:func:`run_demo` generates the example Nanping-like district with three annual epochs, runs the
check for each year, turns the first year's problems into renewal projects, follows them through
the later years (体检—提升—再体检), exports the CIM folder and renders screenshots. Every step is the
same ``cim-twin`` command a user would type next in that folder; what each printed is kept in
``demo.log``.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CimTwinError, ConfigError

__all__ = ["DemoResult", "run_demo"]

DEFAULT_YEARS = (2023, 2024, 2025)


@dataclass
class DemoResult:
    """What the demo made and found."""

    out_dir: Path
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    projects: list[dict[str, Any]] = field(default_factory=list)
    evaluations: dict[int, dict[str, Any]] = field(default_factory=dict)
    diff: dict[str, Any] = field(default_factory=dict)
    export_dir: Path | None = None
    screenshots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Steps:
    """Runs ``cim-twin`` subcommands in process, inside the demo folder, logging their output."""

    def __init__(self, out_dir: Path, log: Callable[[str], None]) -> None:
        self.out_dir = out_dir
        self.log = log
        self.log_path = out_dir / "demo.log"
        self.log_path.write_text("", encoding="utf-8")

    def run(self, *argv: str, expect_json: bool = False, ok_codes: Sequence[int] = (0,)) -> Any:
        from .cli.main import main

        # Commands may write bytes to sys.stdout.buffer (JSON), so capture through a real buffer.
        out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
        stdout = io.TextIOWrapper(out_bytes, encoding="utf-8", write_through=True)
        stderr = io.TextIOWrapper(err_bytes, encoding="utf-8", write_through=True)
        with contextlib.chdir(self.out_dir), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(list(argv))
        printed, errors = out_bytes.getvalue().decode("utf-8"), err_bytes.getvalue().decode("utf-8")
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(f"$ cim-twin {' '.join(argv)}\n{printed}{errors}[exit {code}]\n\n")
        if code not in ok_codes:
            last = (errors.strip().splitlines() or [f"exit code {code}"])[-1]
            raise CimTwinError(f"demo step 'cim-twin {' '.join(argv[:2])}' failed: {last}", path=self.log_path,
                               hint="the whole output of every step is in demo.log")
        return json.loads(printed) if expect_json else printed


def run_demo(
    out_dir: str | Path = "cim-twin-demo",
    *,
    buildings: int = 1500,
    seed: int = 1,
    years: Sequence[int] = DEFAULT_YEARS,
    screenshots: bool = True,
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo into ``out_dir`` (created; an existing demo folder is regenerated).

    Raises
    ------
    ConfigError
        when ``out_dir`` exists and is not an earlier demo or example folder.
    """
    started = time.perf_counter()
    out = Path(out_dir).resolve()
    if out.exists() and any(out.iterdir()) and not (out / "twin.toml").exists():
        raise ConfigError("the folder exists and is not a cim-twin example project", path=out,
                          hint="choose a new folder with --out")
    from .example_city import refuse_foreign_project

    refuse_foreign_project(out)  # before anything of an earlier demo is removed
    _remove_earlier_results(out)
    result = DemoResult(out_dir=out)
    years = sorted(years)

    log(f"1/6 generating the example district ({buildings} buildings, epochs {', '.join(map(str, years))}) ...")
    from .example_city import generate

    generate(out, buildings=buildings, seed=seed, years=years)
    steps = _Steps(out, log)

    run_ids: dict[int, str] = {}
    for i, year in enumerate(years):
        log(f"{2 if i == 0 else 3}/6 health check {year} ...")
        summary = steps.run("check", ".", "--period", str(year), "--json", expect_json=True, ok_codes=(0, 1))
        run_ids[year] = summary["run_id"]
        result.runs[year] = summary
        if i == 0:
            generated = steps.run("projects", "generate", summary["run_id"], "--json", expect_json=True)
            result.projects = generated.get("projects", generated) if isinstance(generated, dict) else generated
            ids = [p["project_id"] for p in result.projects]
            if ids:
                # The city approves every candidate and starts work on them (提升).
                steps.run("projects", "set-status", *ids, "in_progress")
        else:
            result.evaluations[year] = steps.run("projects", "evaluate", summary["run_id"], "--json",
                                                 expect_json=True)

    first, last = run_ids[years[0]], run_ids[years[-1]]
    result.diff = steps.run("diff", first, last, "--json", expect_json=True)

    log("4/6 problem and task lists, run report ...")
    steps.run("lists", last, "--out", "lists")
    steps.run("report", last, "--out", "report.html")

    log("5/6 exporting the CIM folder (3D Tiles 1.1 and 1.0, problem layer, lists) ...")
    steps.run("export", ".", "--out", "export/cim", "--run", last, "--tiles-version", "both",
              "--color-by", "severity", "--overwrite")
    result.export_dir = out / "export" / "cim"

    if screenshots:
        log("6/6 screenshots ...")
        _screenshots(steps, result, last, years[-1])
    result.seconds = time.perf_counter() - started
    return result


def _remove_earlier_results(out: Path) -> None:
    """A demo folder is regenerated whole: drop the catalog and outputs of an earlier demo."""
    import shutil

    for name in ("catalog.gpkg", "catalog.gpkg-wal", "catalog.gpkg-shm", "report.html", "report.md", "demo.log"):
        (out / name).unlink(missing_ok=True)
    for name in ("export", "lists", "screenshots"):
        shutil.rmtree(out / name, ignore_errors=True)


def _screenshots(steps: _Steps, result: DemoResult, run_id: str, year: int) -> None:
    try:
        from .viewer import require_pyvista

        require_pyvista()
    except CimTwinError as exc:
        result.notes.append(f"screenshots skipped: {exc}")
        return
    shots = [
        ("overview.png", ["--color-by", "severity"]),
        ("worst-problem.png", ["--color-by", "severity", "--focus", "1"]),
        ("old-housing.png", ["--color-by", "year_built", "--camera", "top"]),
    ]
    (result.out_dir / "screenshots").mkdir(exist_ok=True)
    for name, extra in shots:
        target = f"screenshots/{name}"
        try:
            steps.run("view", ".", "--run", run_id, "--year", str(year), *extra, "--screenshot", target)
        except CimTwinError as exc:
            result.notes.append(f"screenshot {name} failed: {exc}")
            continue
        result.screenshots.append(result.out_dir / target)


def summary_text(result: DemoResult) -> str:
    """The short summary printed at the end of ``cim-twin demo``."""
    out = result.out_dir
    lines = ["", f"cim-twin demo: done in {result.seconds:.0f} s -> {out}", ""]
    lines.append("findings per year (问题):")
    for year, run in sorted(result.runs.items()):
        per = {k: v.get("findings", 0) for k, v in run.get("indicators", {}).items()}
        top = ", ".join(f"{k} {v}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:4] if v)
        failed = [k for k, v in run.get("indicators", {}).items() if v.get("status") != "ok"]
        lines.append(f"  {year}: {sum(per.values()):>5}  run {run['run_id']}  (most: {top})"
                     + (f"  FAILED: {', '.join(failed)}" if failed else ""))
    counts = result.diff.get("counts") or {}
    if counts:
        lines.append("from the first to the last year: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines.append(f"renewal projects (项目库) from the first year: {len(result.projects)}")
    for year, ev in sorted(result.evaluations.items()):
        rows = ev.get("projects", []) if isinstance(ev, dict) else ev
        gone = [int(p.get("resolved", 0)) + int(p.get("verified", 0)) for p in rows]
        total = sum(int(p.get("findings_total", 0)) for p in rows)
        share = f" ({sum(gone) / total:.0%})" if total else ""
        lines.append(f"  再体检 {year}: {sum(1 for g in gone if g)} of {len(rows)} projects with problems fixed; "
                     f"{sum(gone)} of {total} project findings gone{share}")
    places = [
        (out / "report.html", "run report (indicators, worst problems, trends)"),
        (out / "lists", "问题清单 / 任务清单 (XLSX, CSV)"),
        (out / "export" / "cim" / "layers.json", "CIM export manifest (3D Tiles 1.1 + 1.0, problems)"),
        (out / "catalog.gpkg", "runs, findings, projects (opens in QGIS)"),
        *((shot, "screenshot") for shot in result.screenshots),
    ]
    width = max(len(str(path)) for path, _ in places)
    lines += ["", "where to look:"]
    lines += [f"  {path!s:<{width}}  {what}" for path, what in places]
    lines += [
        "",
        "next, in that folder:",
        "  cim-twin runs            cim-twin show latest        cim-twin diff 2023 2025",
        "  cim-twin projects list   cim-twin view .             cim-twin check . --period 2025",
    ]
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
