"""The object the core loads through the `leadtherm.crms` entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.hubspot.normalize import flatten
from integration.ports import CrmClient
from mappings.schema import CrmMapping


class HubspotPlugin:
    name = "hubspot"

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        return flatten(record)

    def client(self, mapping: CrmMapping, env: Mapping[str, str]) -> CrmClient:
        raise NotImplementedError("the Hubspot API client arrives with the Hubspot adapter")


plugin = HubspotPlugin()
