"""Find CRM adapters by name through the `leadtherm.crms` entry-point group.

The core never imports an adapter: the composition happens here, at run time,
so a third party can ship a CRM adapter as its own package.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

from integration.errors import LeadthermError
from integration.ports import CrmClient
from mappings.schema import CrmMapping

GROUP = "leadtherm.crms"


class CrmPlugin(Protocol):
    """What an adapter package exposes as its `plugin` object."""

    name: str

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """An API-shaped or exported record -> (object type if it says, flat field values)."""
        ...

    def client(self, mapping: CrmMapping, env: Mapping[str, str]) -> CrmClient:
        """A CrmClient configured from the environment (raises MissingSetting)."""
        ...


class UnknownCrm(LeadthermError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no CRM adapter named {name!r} (installed: {', '.join(known) or 'none'})")


def crm_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load_crm(name: str) -> CrmPlugin:
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            plugin: CrmPlugin = ep.load()
            return plugin
    raise UnknownCrm(name, crm_names())
