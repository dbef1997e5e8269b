"""When Python's cyclic garbage collector may run during bulk work.

The collector starts a pass every 700 net new container objects (lists, dicts, dataclasses). A
reader makes millions of them: each pass is short, but together they took a tenth of a streaming
export (docs/benchmarks.md), and full passes over a heap that holds a whole scene cost more than
the reading itself. Reference counting still frees everything that is not in a cycle, right away.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_for_fork", "gc_paused", "gc_rare"]

#: Net new containers between two young-generation passes under :func:`gc_rare`: rare enough to
#: cost nothing measurable, frequent enough that garbage cycles stay a few megabytes.
RARE_THRESHOLD = 100_000


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block, for work whose objects all live on (a whole scene
    read into memory) and form no garbage cycles. Restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def gc_rare(threshold: int = RARE_THRESHOLD) -> Iterator[None]:
    """Rare cyclic collection inside the block, for streaming work whose memory must stay flat
    (objects that die young, some of them in cycles: a building and its parts point at each
    other). Processes forked inside the block inherit the setting. Restored afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def frozen_for_fork() -> Iterator[None]:
    """Every object that exists now is left out of cyclic collection inside the block, for
    forking workers: their collections then never walk the objects they inherit, and so never
    write to (and copy) those shared pages. Unfrozen afterwards, unless something outside the
    block had frozen objects before (then it unfreezes them)."""
    outer = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not outer:
            gc.unfreeze()
