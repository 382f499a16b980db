"""The attributes a rule may test, with their kinds: the one place the console learns them.

The catalogue's built-ins, plus each mapping file's `custom_attributes` section read as raw
YAML (so a half-edited file still offers what is readable in the forms).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from integration.ports.rules_store import Files
from mappings.catalogue import BUILTIN, NUMERIC_KINDS
from mappings.documents import DocumentError, load_yaml
from mappings.grammar import crm_of


@dataclass(frozen=True)
class AttributeInfo:
    """One attribute as the forms offer it."""

    name: str
    kind: str
    decays: bool
    label: str
    custom: bool = False
    crms: list[str] = field(default_factory=list)  # the mapping files that declare a custom one

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


def _raw(text: str) -> object:
    try:
        return load_yaml(text)
    except (yaml.YAMLError, DocumentError):
        return None  # the editor shows the syntax error; the forms offer what is readable


def attributes_in_use(files: Files) -> list[AttributeInfo]:
    """Built-in attributes, then every custom attribute declared in a mapping file (by name, first kind wins)."""
    found: dict[str, AttributeInfo] = {a.name: AttributeInfo(a.name, a.kind, a.decays, a.label) for a in BUILTIN}
    for file_name, text in sorted(files.items()):
        crm = crm_of(file_name)
        if crm is None:
            continue
        data = _raw(text)
        section = data.get("custom_attributes") if isinstance(data, dict) else None
        if not isinstance(section, dict):
            continue
        for name, spec in section.items():
            if not isinstance(spec, dict):
                continue
            known = found.get(str(name))
            if known is not None and known.custom:
                known.crms.append(crm)
                continue
            if known is None:
                found[str(name)] = AttributeInfo(
                    name=str(name),
                    kind=str(spec.get("kind", "text")),
                    decays=bool(spec.get("decays", False)),
                    label=str(spec.get("label") or str(name).replace("_", " ").capitalize()),
                    custom=True,
                    crms=[crm],
                )
    return list(found.values())
