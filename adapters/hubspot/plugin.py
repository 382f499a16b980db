"""The object the core loads through the `leadtherm.crms` entry point.

The client and the field setup (the HubSpot SDK) are imported by the methods that use them: `leadtherm check`
and the Lambda HTTP handler load this plugin and never call them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from adapters.hubspot.endpoints import DEFAULT_API_BASE
from adapters.hubspot.flatten import flatten
from adapters.hubspot.signature import LEGACY_SETTING
from integration.composition.plugins import CalibrationSource, Env, MappedObjectTypes, SetupReport
from integration.composition.settings import Setting
from integration.errors import InvalidSetting, MissingSetting
from integration.service.ratelimit import parse_rate_limit

if TYPE_CHECKING:  # the runtime, the ports and the mapping models are the caller's: `leadtherm check` loads
    # none of them, the Lambda HTTP handler only the ports its routes use
    from integration.composition.runtime import Runtime
    from integration.ports import CrmClient, RecordRef
    from integration.ports.companies import CompanyClient
    from integration.ports.inbound import InboundRoute
    from integration.ports.intake import BackgroundIntake
    from mappings.company import CompanyMapping
    from mappings.schema import CrmMapping

DEFAULT_RATE_LIMIT = (100, 10.0)  # public apps: 100 requests per rolling 10 s

SETTINGS = [
    Setting("HUBSPOT_ACCESS_TOKEN", "private-app or OAuth access token", secret=True, required=True),
    Setting("HUBSPOT_CLIENT_SECRET", "app client secret, verifies webhook signatures", secret=True),
    Setting(
        LEGACY_SETTING,
        "`v1`, `v2` or `v1,v2`: also accept these signatures (no timestamp, replayable) when a request has "
        "no v3 headers; unset: v3 only",
    ),
    Setting("HUBSPOT_API_BASE", "API base URL", default=DEFAULT_API_BASE),
    Setting(
        "HUBSPOT_RATE_LIMIT",
        "requests/seconds to stay under (e.g. `190/10` on Pro/Enterprise private apps)",
        default="100/10",
    ),
    Setting("HUBSPOT_JOURNAL", "`1`: read changes from the webhooks journal (a pull intake) in `serve` and `listen`"),
    Setting("HUBSPOT_CLIENT_ID", "app client id, for the journal's client-credentials token (with the client secret)"),
    Setting("HUBSPOT_PORTAL_ID", "the installed account's id (`installPortalId`) whose local journal is read"),
    Setting(
        "HUBSPOT_JOURNAL_START", "`latest` or `earliest`: where a first start reads the journal from", default="latest"
    ),
    Setting("HUBSPOT_JOURNAL_POLL", "seconds between journal polls when it is caught up", default="1"),
    Setting(
        "HUBSPOT_JOURNAL_MAX_LAG", "seconds behind the journal (or failing) before /healthz is degraded", default="300"
    ),
]

# HubSpot's object type ids in its record URLs.
RECORD_OBJECT_TYPES = {"contact": "0-1"}


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
    calibration = CalibrationSource(outcome="has_won_deal", created="createdate")

    def settings(self) -> list[Setting]:
        return SETTINGS

    def how_to_configure(self) -> str:
        return "HUBSPOT_ACCESS_TOKEN"

    def sandbox(self) -> str | None:
        return "hubspot"

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        return flatten(record)

    def configured(self, env: Env) -> bool:
        return bool(env.get("HUBSPOT_ACCESS_TOKEN"))

    def client(self, mapping: CrmMapping, env: Env) -> CrmClient:
        from adapters.hubspot.client import HubSpotClient

        return HubSpotClient(mapping, _token(env), _api_base(env))

    def rate_limit(self, env: Env) -> tuple[int, float]:
        return parse_rate_limit(env.get("HUBSPOT_RATE_LIMIT"), DEFAULT_RATE_LIMIT, "HUBSPOT_RATE_LIMIT")

    def routes(self, mapping: MappedObjectTypes, env: Env) -> list[InboundRoute]:
        from adapters.hubspot.inbound import HubSpotWebhookRoute, legacy_versions
        from integration.ports.inbound import secrets_setting

        secrets = secrets_setting(env.get("HUBSPOT_CLIENT_SECRET"))
        return [HubSpotWebhookRoute(secrets, legacy=legacy_versions(env.get(LEGACY_SETTING)))]

    def companies(self, client: CrmClient, mapping: CompanyMapping) -> CompanyClient:
        """Company scores: HubSpot companies on the contact client's SDK session."""
        from adapters.hubspot.client import HubSpotClient
        from adapters.hubspot.companies import HubSpotCompanies

        assert isinstance(client, HubSpotClient), "the client this plugin built"
        return HubSpotCompanies(client.api, mapping)

    def setup(self, mapping: CrmMapping, env: Env) -> SetupReport:
        from adapters.hubspot.client import HubSpotClient
        from adapters.hubspot.field_setup import setup

        client = HubSpotClient(mapping, _token(env), _api_base(env))
        return setup(client.api, mapping, env)

    def record_url(self, ref: RecordRef, env: Env) -> str | None:
        """The record in HubSpot's app, when HUBSPOT_PORTAL_ID names the account (contacts only)."""
        portal = env.get("HUBSPOT_PORTAL_ID", "").strip()
        object_type = RECORD_OBJECT_TYPES.get(ref.object_type)
        if not portal.isdigit() or object_type is None or not ref.record_id.isdigit():
            return None
        return f"https://app.hubspot.com/contacts/{portal}/record/{object_type}/{ref.record_id}"

    def intakes(self, runtime: Runtime, env: Env) -> list[BackgroundIntake]:
        """The webhooks journal, when HUBSPOT_JOURNAL=1: a pull intake that needs no public endpoint."""
        from adapters.hubspot.journal.intake import journal_intakes  # only a deployment that reads it pays

        return journal_intakes(runtime, env)


plugin = HubSpotPlugin()
