"""Salesforce record shapes -> flat field dicts the mapping reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def dotted(record: Mapping[str, Any]) -> dict[str, Any]:
    """A SOQL record's fields, a parent relationship's as `Relationship.Field` (as Bulk API 2.0 names them).

    A null parent (a Lead converted without an Opportunity) has no fields: they read as empty.
    """
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            flat.update({f"{key}.{name}": inner for name, inner in dotted(value).items()})
        else:
            flat[key] = value
    return flat


def flatten(record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A REST/SOQL record (with `attributes.type`) or an exported row -> (sObject type, fields)."""
    attributes = record.get("attributes")
    flat = dotted(record)
    object_type = attributes.get("type") if isinstance(attributes, Mapping) else None
    if object_type is None and isinstance(flat.get("Id"), str):
        object_type = {"00Q": "Lead", "003": "Contact"}.get(flat["Id"][:3])
    return object_type, flat
