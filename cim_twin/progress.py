"""Progress bars on stderr, shown only on a terminal (never in pipes, logs or CI)."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["progress"]


class _NoProgress:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(total: float | None = None, desc: str = "", unit: str = "it", *, enabled: bool | None = None,
             unit_scale: bool = False) -> Any:
    """A tqdm bar on stderr when stderr is a terminal (or ``enabled=True``), else a silent stand-in
    with the same ``update``/``close`` methods. ``CIM_TWIN_NO_PROGRESS=1`` turns bars off."""
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CIM_TWIN_NO_PROGRESS")
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=sys.stderr, leave=False,
                dynamic_ncols=True)
