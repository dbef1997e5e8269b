"""The project's own CesiumJS check: a real client loads an exported tileset in headless Chromium.

A small HTTP server on 127.0.0.1 serves CesiumJS (npm ``cesium``, installed by ``.ci/setup-e2e.sh``
into ``$CIM_TWIN_E2E_HOME``, default ``~/.cache/cim-twin-e2e``), the page in ``page/``, the export
folder under ``/tiles/`` and ``/expect.json`` (what to check); the page POSTs its findings to
``/result``. Chromium runs headless with software WebGL (SwiftShader); no other origin is reachable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

PAGE = Path(__file__).parent / "page"


def e2e_home() -> Path:
    return Path(os.environ.get("CIM_TWIN_E2E_HOME", Path.home() / ".cache" / "cim-twin-e2e"))


def chromium_binary() -> str | None:
    explicit = os.environ.get("CHROMIUM_BIN")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_reason() -> str | None:
    """Why the e2e check cannot run here (None when it can)."""
    if chromium_binary() is None:
        return "chromium not installed (run .ci/setup-e2e.sh as root)"
    if not (e2e_home() / "node_modules" / "cesium" / "Build" / "Cesium" / "Cesium.js").is_file():
        return f"CesiumJS not installed in {e2e_home()} (run .ci/setup-e2e.sh)"
    return None


def validator_missing_reason() -> str | None:
    if shutil.which("node") is None:
        return "node not installed (run .ci/setup-e2e.sh)"
    if not (e2e_home() / "node_modules" / "gltf-validator").is_dir():
        return f"gltf-validator not installed in {e2e_home()} (run .ci/setup-e2e.sh)"
    return None


def validate_gltf(files: list[Path]) -> list[dict[str, Any]]:
    """Run the Khronos glTF validator on glb/b3dm files; one report dict per file."""
    env = dict(os.environ, NODE_PATH=str(e2e_home() / "node_modules"))
    out = subprocess.run(["node", str(Path(__file__).parent / "validate.js"), *map(str, files)],
                         capture_output=True, text=True, env=env, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"validator failed: {out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


class _Handler(SimpleHTTPRequestHandler):
    mounts: ClassVar[dict[str, Path]] = {}
    expect: bytes = b"{}"
    result: dict[str, Any] | None = None
    done: threading.Event

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        for prefix, root in self.mounts.items():
            if path.startswith(prefix):
                target = (root / path[len(prefix):]).resolve()
                if target == root or root in target.parents:
                    return str(target)
        return str(Path("/nonexistent"))

    def do_GET(self) -> None:
        if self.path.startswith("/expect.json"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.expect)))
            self.end_headers()
            self.wfile.write(self.expect)
            return
        super().do_GET()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        type(self).result = json.loads(body or b"{}")
        self.send_response(204)
        self.end_headers()
        type(self).done.set()


def run_cesium_checks(export_dir: Path, checks: list[dict[str, Any]], *, timeout_s: float = 120) -> dict[str, Any]:
    """Load tilesets of ``export_dir`` in CesiumJS, one browser for all. Each check is
    ``{"tileset": "buildings/tileset.json", "features": [{"id", "lon", "lat", "height"}], "points": bool}``;
    the report has one entry per check under ``checks`` (tiles loaded, errors, overview, picks)."""
    cesium = e2e_home() / "node_modules" / "cesium" / "Build" / "Cesium"
    handler = type("Handler", (_Handler,), {})
    handler.mounts = {"/cesium/": cesium.resolve(), "/page/": PAGE.resolve(), "/tiles/": export_dir.resolve()}
    handler.expect = json.dumps({
        "timeoutMs": int(timeout_s * 1000 / 3),
        "checks": [{**c, "tileset": f"/tiles/{c['tileset']}", "features": c.get("features", []),
                    "points": bool(c.get("points"))} for c in checks],
    }).encode()
    handler.result = None
    handler.done = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(PAGE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    profile = tempfile.mkdtemp(prefix="cim-twin-e2e-")
    chrome = subprocess.Popen(
        [chromium_binary() or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
         "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-dev-shm-usage", "--window-size=480,360", f"--user-data-dir={profile}",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         f"http://127.0.0.1:{port}/page/index.html"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        finished = handler.done.wait(timeout_s)
    finally:
        chrome.terminate()
        try:
            _, err = chrome.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            chrome.kill()
            _, err = chrome.communicate()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    if not finished or handler.result is None:
        raise AssertionError(f"no result from the page within {timeout_s} s; chromium said: "
                             f"{err.decode(errors='replace')[-1500:]}")
    return handler.result
