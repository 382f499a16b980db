"""The object the core loads through the `leadtherm.crms` entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.salesforce.normalize import flatten
from integration.ports import CrmClient
from mappings.schema import CrmMapping


class SalesforcePlugin:
    name = "salesforce"

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        return flatten(record)

    def client(self, mapping: CrmMapping, env: Mapping[str, str]) -> CrmClient:
        raise NotImplementedError("the Salesforce API client arrives with the Salesforce adapter")


plugin = SalesforcePlugin()
