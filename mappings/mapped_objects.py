"""The object types a CRM's mapping file names, read without validating the file (for the webhook edge).

The Lambda HTTP handler only verifies and enqueues; its routes need to know which object types a
delivery may name, nothing else of the mapping. Validating the mappings (PyYAML, pydantic, 19
models) was a third of its cold start. The line `objects: [Lead, Contact]` (or a block list under
`objects:`) is read directly; a file spelled otherwise is parsed with the bounded YAML reader. The
worker loads and validates the whole configuration and refuses a bad one; the events wait in the
queue (and then the dead-letter queue) until it is fixed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mappings.errors import ConfigError, Problem
from mappings.grammar import mapping_file

PACKAGED = Path(__file__).resolve().parent
OBJECTS_KEY = "objects"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # an object's API name: Lead, Contact, Invoice__c
_KEY = re.compile(rf"^{OBJECTS_KEY}\s*:(.*)$")
_ITEM = re.compile(r"^\s+-\s+(.*)$")


@dataclass(frozen=True)
class MappedObjects:
    """A CRM and the object types its mapping reads (what a webhook route reads of a CrmMapping)."""

    crm: str
    objects: tuple[str, ...]


def _uncommented(text: str) -> str:
    return re.sub(r"\s+#.*$", "", text).strip()


def _name(text: str) -> str | None:
    unquoted = text.strip()
    if len(unquoted) >= 2 and unquoted[0] == unquoted[-1] and unquoted[0] in "'\"":
        unquoted = unquoted[1:-1]
    return unquoted if _NAME.fullmatch(unquoted) else None


def _read_lines(lines: Sequence[str]) -> tuple[str, ...] | None:
    """The names of the one top-level `objects:` key in flow or block style; None when spelled otherwise."""
    keys = [(i, key) for i, line in enumerate(lines) if (key := _KEY.match(line))]
    if len(keys) != 1:
        return None
    start, key = keys[0]
    rest = _uncommented(key.group(1))
    if rest.startswith("[") and rest.endswith("]"):
        items = [item for item in rest[1:-1].split(",") if item.strip()]
    elif rest:
        return None
    else:
        items = []
        for line in lines[start + 1 :]:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            item = _ITEM.match(line)
            if item is None:
                break
            items.append(_uncommented(item.group(1)))
    names = [_name(item) for item in items]
    if not names or None in names:
        return None
    return tuple(name for name in names if name is not None)


def _read_yaml(text: str) -> tuple[str, ...] | None:
    import yaml  # only for a file spelled unusually

    from mappings.documents import load_yaml

    try:
        data = load_yaml(text)
    except (ValueError, yaml.YAMLError):  # DocumentError is a ValueError
        return None
    objects = data.get(OBJECTS_KEY) if isinstance(data, dict) else None
    if (
        not isinstance(objects, list)
        or not objects
        or not all(isinstance(o, str) and _NAME.fullmatch(o) for o in objects)
    ):
        return None
    return tuple(objects)


def mapped_objects(crm: str, folder: str | os.PathLike[str] | None = None) -> MappedObjects:
    """The object types `<crm>.yaml` in `folder` (default: the packaged one) maps; ConfigError when it cannot say."""
    path = (Path(folder) if folder else PACKAGED) / mapping_file(crm)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), None, OBJECTS_KEY, f"cannot read it ({exc})")]) from exc
    objects = _read_lines(text.splitlines()) or _read_yaml(text)
    if objects is None:
        raise ConfigError([Problem(str(path), None, OBJECTS_KEY, "needs a list of object names (`leadtherm check`)")])
    return MappedObjects(crm, objects)
