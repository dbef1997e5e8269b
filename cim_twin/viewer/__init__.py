"""The desktop viewer (PyVista/VTK): the only part of cim_twin that imports them, and only when a
view is drawn, so that ``import cim_twin`` and every other command stay headless and fast.

>>> from cim_twin.viewer import ViewOptions, ViewerState, render_screenshot   # doctest: +SKIP
>>> render_screenshot(scene, "city.png", run=load_findings("runs/2025"))      # doctest: +SKIP

Modules: :mod:`.scene_mesh` (the scene merged per layer and LOD), :mod:`.colors` and
:mod:`.coloring` (what is coloured how), :mod:`.problems` (findings: loading, year filter, order,
glyphs), :mod:`.state` (everything a view shows, without GL), :mod:`.app` (the interactive window),
:mod:`.screenshot` (off-screen PNG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import CimTwinError

if TYPE_CHECKING:
    from .problems import RunFindings, load_findings
    from .screenshot import render_screenshot
    from .state import ViewerState, ViewOptions

__all__ = [
    "INSTALL_HINT",
    "RunFindings",
    "ViewOptions",
    "ViewerState",
    "ViewerUnavailable",
    "load_findings",
    "render_screenshot",
    "require_pyvista",
]

INSTALL_HINT = 'pip install "cim-twin[viewer]"'


class ViewerUnavailable(CimTwinError):
    """PyVista/VTK are not installed, or cannot open a render window."""


def require_pyvista() -> Any:
    """Import pyvista, or raise :class:`ViewerUnavailable` with the install command.

    Raises
    ------
    ViewerUnavailable
        when pyvista or vtk cannot be imported.
    """
    try:
        import pyvista
    except ImportError as exc:
        raise ViewerUnavailable(
            f"the viewer needs PyVista and VTK, which are not installed ({exc.name or exc})",
            hint=f"install them with: {INSTALL_HINT}",
        ) from exc
    return pyvista


_LAZY = {
    "RunFindings": "problems",
    "load_findings": "problems",
    "ViewOptions": "state",
    "ViewerState": "state",
    "render_screenshot": "screenshot",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
