"""The object types a CRM's mapping file names, read without validating the file (for the webhook edge).

The Lambda HTTP handler only verifies and enqueues; its routes need to know which object types a
delivery may name (the people's, and the company's when the mapping scores companies), nothing
else of the mapping. Validating the mappings (19 pydantic models) was a third of its cold start, so
the file is only parsed (the bounded YAML reader). The worker loads and validates the whole
configuration and refuses a bad one; the events wait in the queue (and then the dead-letter
queue) until it is fixed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mappings.documents import load_yaml
from mappings.errors import ConfigError, Problem
from mappings.grammar import mapping_file

PACKAGED = Path(__file__).resolve().parent
OBJECTS_KEY = "objects"
COMPANY_KEY = "company"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # an object's API name: Lead, Contact, Invoice__c


@dataclass(frozen=True)
class MappedObjects:
    """A CRM and the object types its mapping reads (what a webhook route reads of a CrmMapping)."""

    crm: str
    objects: tuple[str, ...]
    company_object: str | None = None


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and _NAME.fullmatch(value) else None


def _objects(data: Any) -> tuple[str, ...] | None:
    objects = data.get(OBJECTS_KEY) if isinstance(data, dict) else None
    if not isinstance(objects, list) or not objects or not all(_name(o) for o in objects):
        return None
    return tuple(objects)


def _company_object(data: dict[str, Any]) -> str | None:
    company = data.get(COMPANY_KEY)
    return _name(company.get("object")) if isinstance(company, dict) else None


def mapped_objects(crm: str, folder: str | os.PathLike[str] | None = None) -> MappedObjects:
    """The object types `<crm>.yaml` in `folder` (default: the packaged one) maps; ConfigError when it cannot say."""
    path = (Path(folder) if folder else PACKAGED) / mapping_file(crm)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), None, OBJECTS_KEY, f"cannot read it ({exc})")]) from exc
    try:
        data = load_yaml(text)
    except (ValueError, yaml.YAMLError):  # DocumentError is a ValueError; `leadtherm check` says where
        data = None
    objects = _objects(data)
    if objects is None:
        raise ConfigError([Problem(str(path), None, OBJECTS_KEY, "needs a list of object names (`leadtherm check`)")])
    assert isinstance(data, dict)  # _objects found the list in it
    return MappedObjects(crm, objects, _company_object(data))
