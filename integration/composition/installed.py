"""The installed packages' entry points, read once per process: the plugins, backends, sandboxes and commands.

Each read of `importlib.metadata.entry_points` opens every installed distribution's metadata (about
150 here); `leadtherm check` and a Lambda cold start asked for several groups, one scan each. One
scan now serves every group, again whenever `sys.path` changes (a test installs a plugin on the fly).
Nothing else is imported here: `leadtherm --help` reads the commands' group through it.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any


def installed(group: str) -> tuple[EntryPoint, ...]:
    """The group's entry points, from the one scan of the current import path."""
    return _group(group, tuple(sys.path))


@cache
def _group(group: str, path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    return tuple(_every(path).select(group=group))


@cache
def _every(path: tuple[str, ...]) -> Any:
    # Every group at once: SelectableGroups on 3.11, EntryPoints from 3.12; both `select(group=...)`.
    return entry_points()
