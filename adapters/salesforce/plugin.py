"""The object the core loads through the `leadtherm.crms` entry point.

requests, simple_salesforce, the client and the field setup are imported by the methods that use them:
`leadtherm check` and the Lambda HTTP handler load this plugin and never call them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from adapters.salesforce.flatten import flatten
from adapters.salesforce.settings import SETTINGS, cdc_enabled
from integration.composition.plugins import CalibrationSource, Env, MappedObjectTypes, SetupReport
from integration.composition.settings import Setting
from integration.errors import MissingSetting
from integration.service.ratelimit import parse_rate_limit

if TYPE_CHECKING:  # the runtime, the ports and the mapping models are the caller's: `leadtherm check` loads
    # none of them, the Lambda HTTP handler only the ports its routes use
    from simple_salesforce.api import Salesforce

    from integration.composition.runtime import Runtime
    from integration.ports import CrmClient, RecordRef
    from integration.ports.companies import CompanyClient
    from integration.ports.inbound import InboundRoute
    from integration.ports.intake import BackgroundIntake
    from mappings.company import CompanyMapping
    from mappings.schema import CrmMapping

DEFAULT_RATE_LIMIT = (25, 1.0)  # Salesforce limits per day, not per second: stay gentle anyway
API_VERSION = "59.0"


def connect(env: Env) -> Salesforce:
    """A session from the environment: a token, a username/password, or a JWT bearer grant."""
    from simple_salesforce.api import Salesforce

    from adapters.salesforce.errors import call
    from adapters.salesforce.http_session import http_session

    domain = env.get("SALESFORCE_DOMAIN") or None
    session = http_session(env)
    if env.get("SALESFORCE_INSTANCE_URL") and env.get("SALESFORCE_ACCESS_TOKEN"):
        return Salesforce(
            instance_url=env["SALESFORCE_INSTANCE_URL"],
            session_id=env["SALESFORCE_ACCESS_TOKEN"],
            version=API_VERSION,
            session=session,
        )
    username = env.get("SALESFORCE_USERNAME")
    if username and env.get("SALESFORCE_CONSUMER_KEY") and env.get("SALESFORCE_PRIVATE_KEY_FILE"):
        return call(
            lambda: Salesforce(
                username=username,
                consumer_key=env["SALESFORCE_CONSUMER_KEY"],
                privatekey_file=env["SALESFORCE_PRIVATE_KEY_FILE"],
                domain=domain,
                version=API_VERSION,
                session=session,
            )
        )
    if username and env.get("SALESFORCE_PASSWORD"):
        return call(
            lambda: Salesforce(
                username=username,
                password=env["SALESFORCE_PASSWORD"],
                security_token=env.get("SALESFORCE_SECURITY_TOKEN", ""),
                domain=domain,
                version=API_VERSION,
                session=session,
            )
        )
    raise _missing(env)


def _missing(env: Env) -> MissingSetting:
    """Name the variable that is missing from the way of logging in the environment started on."""
    if env.get("SALESFORCE_INSTANCE_URL") and not env.get("SALESFORCE_ACCESS_TOKEN"):
        return MissingSetting("SALESFORCE_ACCESS_TOKEN", "SALESFORCE_INSTANCE_URL is set: a session needs both")
    if env.get("SALESFORCE_ACCESS_TOKEN"):
        return MissingSetting("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN is set: a session needs both")
    if env.get("SALESFORCE_CONSUMER_KEY") or env.get("SALESFORCE_PRIVATE_KEY_FILE"):
        for name in ("SALESFORCE_USERNAME", "SALESFORCE_CONSUMER_KEY", "SALESFORCE_PRIVATE_KEY_FILE"):
            if not env.get(name):
                return MissingSetting(name, "the JWT bearer login needs it")
    if env.get("SALESFORCE_USERNAME"):
        return MissingSetting("SALESFORCE_PASSWORD", "SALESFORCE_USERNAME is set: a password login needs both")
    return MissingSetting(
        "SALESFORCE_INSTANCE_URL",
        "with SALESFORCE_ACCESS_TOKEN; or SALESFORCE_USERNAME with SALESFORCE_PASSWORD, "
        "or with SALESFORCE_CONSUMER_KEY and SALESFORCE_PRIVATE_KEY_FILE",
    )


def instance_url(env: Env) -> str:
    """The org's own instance (from the configured session or a login): where sessions are checked."""
    configured = env.get("SALESFORCE_INSTANCE_URL")
    return configured if configured else f"https://{connect(env).sf_instance}"


def _remembered(find: Callable[[], str]) -> Callable[[], str]:
    """`find`, called once it first succeeds (a login is not repeated per message)."""
    found: list[str] = []

    def once() -> str:
        if not found:
            found.append(find())
        return found[0]

    return once


class SalesforcePlugin:
    name = "salesforce"
    calibration = CalibrationSource(outcome="converted", created="CreatedDate")

    def settings(self) -> list[Setting]:
        return SETTINGS

    def how_to_configure(self) -> str:
        return "SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN (or SALESFORCE_USERNAME/PASSWORD)"

    def intakes(self, runtime: Runtime, env: Env) -> list[BackgroundIntake]:
        if not cdc_enabled(env):
            return []
        # Imported here: grpc is heavy, and only a CDC setup needs it.
        from adapters.salesforce.pubsub.listener import CdcIntake, Listener

        return [CdcIntake(Listener(runtime, env))]

    def sandbox(self) -> str | None:
        return "salesforce"

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        return flatten(record)

    def record_url(self, ref: RecordRef, env: Env) -> str | None:
        """The record in Lightning, when SALESFORCE_INSTANCE_URL names the org.

        With a password or JWT login only a login finds the instance: no link then (a page view never logs in).
        """
        instance = env.get("SALESFORCE_INSTANCE_URL", "").strip().rstrip("/")
        parts = urlsplit(instance)
        if parts.scheme != "https" or not parts.hostname or not ref.record_id.isalnum():
            return None
        return f"{instance}/lightning/r/{quote(ref.object_type, safe='')}/{ref.record_id}/view"

    def configured(self, env: Env) -> bool:
        token = bool(env.get("SALESFORCE_INSTANCE_URL") and env.get("SALESFORCE_ACCESS_TOKEN"))
        return token or bool(env.get("SALESFORCE_USERNAME"))

    def client(self, mapping: CrmMapping, env: Env) -> CrmClient:
        from adapters.salesforce.client import SalesforceClient

        return SalesforceClient(mapping, connect(env))

    def rate_limit(self, env: Env) -> tuple[int, float]:
        return parse_rate_limit(env.get("SALESFORCE_RATE_LIMIT"), DEFAULT_RATE_LIMIT, "SALESFORCE_RATE_LIMIT")

    def routes(self, mapping: MappedObjectTypes, env: Env) -> list[InboundRoute]:
        from adapters.salesforce.inbound import (
            OUTBOUND_SECRET_SETTING,
            FlowCalloutRoute,
            OutboundMessageRoute,
            url_secrets,
        )
        from adapters.salesforce.session_check import VERIFY_SESSION_SETTING, UserinfoSessionCheck, enabled
        from integration.ports.inbound import secrets_setting

        org_id = env.get("SALESFORCE_ORG_ID", "")
        session_check = None
        if enabled(env.get(VERIFY_SESSION_SETTING)):
            from adapters.salesforce.http_session import http_session

            session_check = UserinfoSessionCheck(_remembered(lambda: instance_url(env)), org_id, http=http_session(env))
        # Account scores: an outbound message on Account re-scores it (its own fields changed).
        objects = [*mapping.objects, *([mapping.company_object] if mapping.company_object else [])]
        return [
            OutboundMessageRoute(org_id, objects, url_secrets(env.get(OUTBOUND_SECRET_SETTING)), session_check),
            FlowCalloutRoute(secrets_setting(env.get("SALESFORCE_CALLOUT_SECRET")), mapping.objects),
        ]

    def companies(self, client: CrmClient, mapping: CompanyMapping) -> CompanyClient:
        """Account scores: Accounts on the contact client's session."""
        from adapters.salesforce.client import SalesforceClient
        from adapters.salesforce.companies import SalesforceAccounts

        assert isinstance(client, SalesforceClient), "the client this plugin built"
        return SalesforceAccounts(client, mapping)

    def setup(self, mapping: CrmMapping, env: Env) -> SetupReport:
        from adapters.salesforce.client import SalesforceClient
        from adapters.salesforce.field_setup import setup
        from adapters.salesforce.inbound import OUTBOUND_SECRET_SETTING, url_secrets

        client = SalesforceClient(mapping, connect(env))
        secrets = url_secrets(env.get(OUTBOUND_SECRET_SETTING))
        return setup(client.sf, mapping, client.user_id, secrets[0] if secrets else None)


plugin = SalesforcePlugin()
