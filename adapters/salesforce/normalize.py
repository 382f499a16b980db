"""Salesforce record shapes -> flat field dicts the mapping reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A REST/SOQL record (with `attributes.type`) or an exported row -> (sObject type, fields)."""
    attributes = record.get("attributes")
    flat = {k: v for k, v in record.items() if k != "attributes"}
    object_type = attributes.get("type") if isinstance(attributes, Mapping) else None
    if object_type is None and isinstance(flat.get("Id"), str):
        object_type = {"00Q": "Lead", "003": "Contact"}.get(flat["Id"][:3])
    return object_type, flat
