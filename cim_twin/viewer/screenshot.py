"""Off-screen rendering to PNG: no display needed (VTK renders through EGL or OSMesa)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np

from ..errors import ExportError
from ..indicators.api import AuxLayer
from ..scene import Scene
from ..serialization import atomic_write_bytes
from .problems import RunFindings
from .state import ViewerState, ViewOptions

__all__ = ["render_image", "render_screenshot", "write_png"]


def render_image(state: ViewerState, *, focus: int = 0) -> np.ndarray:
    """Render a state off-screen and return the frame as ``(h, w, 3)`` uint8.

    ``focus`` > 0 flies to the ``focus``-th worst finding first (as pressing ``n`` that often).
    """
    from .app import Viewer

    viewer = Viewer(state, off_screen=True)
    try:
        for _ in range(focus):
            viewer.focus(+1)
        return viewer.image()
    finally:
        viewer.close()


def render_screenshot(
    scene: Scene,
    path: str | PathLike[str],
    run: RunFindings | None = None,
    options: ViewOptions | None = None,
    *,
    focus: int = 0,
    context: Iterable[AuxLayer] = (),
) -> Path:
    """Render a scene (and a run's findings) off-screen and write a PNG atomically.

    Parameters
    ----------
    scene, run, options:
        What to show and how (see :class:`~cim_twin.viewer.state.ViewOptions`; widgets are never
        drawn off-screen).
    path:
        The PNG to write.
    focus:
        Fly to the ``focus``-th worst finding before taking the picture (0: overview).
    context:
        Project layers; roads and units are drawn as lines on the ground.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ExportError
        when the PNG cannot be written.
    """
    state = ViewerState(scene, run, options, context)
    return write_png(path, render_image(state, focus=focus))


def write_png(path: str | PathLike[str], pixels: np.ndarray) -> Path:
    """Write an ``(h, w, 3)`` uint8 image as PNG, atomically.

    Raises
    ------
    ExportError
        when the file cannot be written.
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    out = Path(path)
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:
        raise ExportError(f"cannot write the screenshot: {exc.strerror or exc}", path=out) from exc
    return out
