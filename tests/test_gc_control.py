"""The collector policies of bulk work: each one applies inside its block only, errors included."""

from __future__ import annotations

import gc
import os
import weakref

import pytest

from cim_twin.gc_control import RARE_THRESHOLD, frozen_for_fork, gc_paused, gc_rare


class Boom(Exception):
    pass


def test_paused_inside_and_restored_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(Boom), gc_paused():
        assert not gc.isenabled()
        raise Boom
    assert gc.isenabled()


def test_paused_keeps_a_collector_that_was_off_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_rare_raises_the_young_threshold_only_and_restores_it() -> None:
    before = gc.get_threshold()
    with pytest.raises(Boom), gc_rare():
        assert gc.get_threshold() == (RARE_THRESHOLD, *before[1:])
        raise Boom
    assert gc.get_threshold() == before


def test_rare_still_collects_cycles() -> None:
    class Node:
        other: object = None

    alive = []
    with gc_rare(threshold=50):
        for _ in range(500):
            a, b = Node(), Node()
            a.other, b.other = b, a  # garbage only the cyclic collector can free
            alive.append(weakref.ref(a))
        del a, b
        assert sum(r() is not None for r in alive) < 100  # freed by passes, without gc.collect()


def test_rare_as_a_decorator_applies_per_call() -> None:
    before = gc.get_threshold()

    @gc_rare(threshold=12_345)
    def inside() -> int:
        return gc.get_threshold()[0]

    assert inside() == 12_345 and inside() == 12_345
    assert gc.get_threshold() == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_frozen_for_fork_freezes_what_exists_and_unfreezes() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_for_fork():
        assert gc.get_freeze_count() > 1000  # the interpreter's and the test's objects
        pid = os.fork()
        if pid == 0:  # the child inherits the frozen heap
            os._exit(0 if gc.get_freeze_count() > 1000 else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert gc.get_freeze_count() == 0


def test_frozen_for_fork_inside_a_frozen_heap_leaves_unfreezing_to_the_outside() -> None:
    gc.freeze()
    try:
        with frozen_for_fork():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
