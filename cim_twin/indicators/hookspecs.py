"""All plugin hooks of cim_twin, in one module.

Every hook is named ``register_*`` and takes a host-owned ``register`` callback: the plugin hands
its objects to the host, the host checks and records them with the plugin's name. Hooks fire once,
when the host loads plugins (on first use, never at import time); see docs/plugins.md for the
lifecycle picture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "cim_twin"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_indicators(register: Callable[[Any], None]) -> None:
    """Register indicators.

    Fires once when the host loads plugins (first use, never at import), after this plugin's
    ``register_readers`` and ``register_exporters``, before any check runs. Call
    ``register(indicator)`` for each *instance* of an :class:`~cim_twin.plugins.Indicator` subclass
    that sets ``spec`` and implements ``evaluate``; its ``spec.code`` must be unique across all
    plugins. Return nothing.

    Raises: anything raised here, or a registration the host refuses (a class instead of an
    instance, a taken code), marks the whole plugin ``failed`` with the reason and withdraws what
    it registered; the other plugins still load.
    """


@hookspec
def register_readers(register: Callable[[Any], None]) -> None:
    """Register scene readers.

    Fires once when the host loads plugins, first of this plugin's hooks, before the first file is
    read. Call ``register(ReaderSpec(...))`` (see :class:`cim_twin.io.ReaderSpec`) for each format:
    ``sniff(path)`` decides from a few KiB at most, ``read(path, **options)`` returns a Scene.
    Readers are tried in registration order. Return nothing.

    Raises: a name already taken is refused with a :class:`PluginError`, which marks the plugin
    ``failed`` like any exception raised here.
    """


@hookspec
def register_exporters(register: Callable[[Any], None]) -> None:
    """Register exporters.

    Fires once when the host loads plugins, after this plugin's ``register_readers``, before the
    first export. Call ``register(ExporterSpec(...))`` (see :class:`cim_twin.io.ExporterSpec`) for
    each output layer kind; ``export(scene, out_dir, **options)`` writes it. Return nothing.

    Raises: a name already taken is refused with a :class:`PluginError`, which marks the plugin
    ``failed`` like any exception raised here.
    """
