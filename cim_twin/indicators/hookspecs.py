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

    Fires once when the host loads plugins, before any check runs. Call
    ``register(indicator)`` for each :class:`~cim_twin.plugins.Indicator` instance; its
    ``spec.code`` must be unique across all plugins. Return nothing. Raising here marks the whole
    plugin as broken (reported by ``cim-twin plugins``); the other plugins still load.
    """


@hookspec
def register_readers(register: Callable[[Any], None]) -> None:
    """Register scene readers.

    Fires once when the host loads plugins, before the first file is read. Call
    ``register(ReaderSpec(...))`` (see :class:`cim_twin.io.ReaderSpec`) for each format. Readers are
    tried in registration order; a name already taken is refused with a :class:`PluginError`.
    """


@hookspec
def register_exporters(register: Callable[[Any], None]) -> None:
    """Register exporters.

    Fires once when the host loads plugins, before the first export. Call
    ``register(ExporterSpec(...))`` (see :class:`cim_twin.io.ExporterSpec`) for each output layer
    kind. Names must be unique.
    """
