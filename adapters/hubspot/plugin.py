"""The object the core loads through the `leadtherm.crms` entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from adapters.hubspot.client import DEFAULT_API_BASE, HubSpotClient
from adapters.hubspot.field_setup import setup
from adapters.hubspot.flatten import flatten
from adapters.hubspot.inbound import LEGACY_SETTING, HubSpotWebhookRoute, legacy_versions
from integration.composition.plugins import Env, SetupReport
from integration.composition.runtime import Runtime
from integration.errors import InvalidSetting, MissingSetting
from integration.ports import CrmClient
from integration.ports.inbound import InboundRoute, secrets_setting
from integration.ports.intake import BackgroundIntake
from integration.service.ratelimit import parse_rate_limit
from mappings.schema import CrmMapping

DEFAULT_RATE_LIMIT = (100, 10.0)  # public apps: 100 requests per rolling 10 s


def _api_base(env: Env) -> str:
    base = env.get("HUBSPOT_API_BASE") or DEFAULT_API_BASE
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSetting("HUBSPOT_API_BASE", f"a URL such as {DEFAULT_API_BASE}")
    return base


def _token(env: Env) -> str:
    token = env.get("HUBSPOT_ACCESS_TOKEN", "")
    if not token:
        raise MissingSetting("HUBSPOT_ACCESS_TOKEN", "the private-app or OAuth access token")
    return token


class HubSpotPlugin:
    name = "hubspot"

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        return flatten(record)

    def configured(self, env: Env) -> bool:
        return bool(env.get("HUBSPOT_ACCESS_TOKEN"))

    def client(self, mapping: CrmMapping, env: Env) -> CrmClient:
        return HubSpotClient(mapping, _token(env), _api_base(env))

    def rate_limit(self, env: Env) -> tuple[int, float]:
        return parse_rate_limit(env.get("HUBSPOT_RATE_LIMIT"), DEFAULT_RATE_LIMIT, "HUBSPOT_RATE_LIMIT")

    def routes(self, mapping: CrmMapping, env: Env) -> list[InboundRoute]:
        secrets = secrets_setting(env.get("HUBSPOT_CLIENT_SECRET"))
        return [HubSpotWebhookRoute(secrets, legacy=legacy_versions(env.get(LEGACY_SETTING)))]

    def setup(self, mapping: CrmMapping, env: Env) -> SetupReport:
        client = HubSpotClient(mapping, _token(env), _api_base(env))
        return setup(client.api, mapping, env)

    def intakes(self, runtime: Runtime, env: Env) -> list[BackgroundIntake]:
        """The webhooks journal, when HUBSPOT_JOURNAL=1: a pull intake that needs no public endpoint."""
        from adapters.hubspot.journal.intake import journal_intakes  # only a deployment that reads it pays

        return journal_intakes(runtime, env)


plugin = HubSpotPlugin()
