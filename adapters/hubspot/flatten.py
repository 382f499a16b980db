"""HubSpot record shapes -> flat property dicts the mapping reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A CRM v3 object (`{"id", "properties": {...}}`) or an exported row -> flat properties."""
    properties = record.get("properties")
    if isinstance(properties, Mapping):
        flat = dict(properties)
        if record.get("id") is not None:
            flat.setdefault("hs_object_id", str(record["id"]))
        return "contact", flat
    return None, dict(record)
