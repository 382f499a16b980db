"""Values as a person writes them in the rules' YAML (`true`, `50`, `0.5`), not as Python prints them (`True`, `50.0`).

The console and the CLI's `explain` word values and changes alike through here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def written(value: Any) -> str:
    """A value as it is written in the rules' YAML: `true`, `50`, `0.5`, `a, b`; nothing for no value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(written(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {written(v)}" for k, v in value.items())
    return str(value)


def change(name: str, old: Any, new: Any) -> str:
    """One changed value: `score: 15 → 22`; a value set for the first time or cleared says so."""
    if old is None or old == "":
        return f"{name}: set to {written(new)}"
    if new is None or new == "":
        return f"{name}: cleared (was {written(old)})"
    return f"{name}: {written(old)} → {written(new)}"
