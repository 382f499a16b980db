"""Every environment variable the Salesforce adapter reads, declared once."""

from __future__ import annotations

from collections.abc import Mapping

from integration.composition.settings import Setting

CA_BUNDLE_SETTING = "SALESFORCE_CA_BUNDLE"
CDC_SETTING = "SALESFORCE_CDC"
DEFAULT_PUBSUB_ENDPOINT = "api.pubsub.salesforce.com:7443"

SETTINGS = [
    Setting(
        "SALESFORCE_INSTANCE_URL",
        "a REST session's instance, with `SALESFORCE_ACCESS_TOKEN` (or log in with a username, below)",
    ),
    Setting("SALESFORCE_ACCESS_TOKEN", "a REST session's token, with `SALESFORCE_INSTANCE_URL`", secret=True),
    Setting(
        "SALESFORCE_USERNAME",
        "the integration user, for a password login (`SALESFORCE_PASSWORD`) or the JWT bearer flow",
    ),
    Setting("SALESFORCE_PASSWORD", "the integration user's password (password login)", secret=True),
    Setting("SALESFORCE_SECURITY_TOKEN", "the integration user's security token (password login)", secret=True),
    Setting("SALESFORCE_DOMAIN", "`login` or `test` (a sandbox org), for a login", default="login"),
    Setting("SALESFORCE_CONSUMER_KEY", "the connected app's consumer key (JWT bearer flow)"),
    Setting("SALESFORCE_PRIVATE_KEY_FILE", "the private key file (PEM) of the JWT bearer flow"),
    Setting("SALESFORCE_RATE_LIMIT", "requests/seconds to stay under", default="25/1"),
    Setting("SALESFORCE_ORG_ID", "the only org whose outbound messages are accepted"),
    Setting(
        "SALESFORCE_OUTBOUND_SECRET",
        "the secret the outbound message's endpoint URL carries (`?key=`; at least 16 URL-safe characters; "
        "comma-separate two during a rotation); unset: every outbound message is refused",
        secret=True,
    ),
    Setting(
        "SALESFORCE_OUTBOUND_VERIFY_SESSION",
        "`true`: check each outbound message's `SessionId` with Salesforce (oauth2/userinfo) before accepting it",
        default="false",
    ),
    Setting("SALESFORCE_CALLOUT_SECRET", "HMAC secret for `/webhooks/salesforce/flow`", secret=True),
    Setting(
        CA_BUNDLE_SETTING,
        "CA file (PEM) leadtherm's Salesforce requests trust, and only they (e.g. the sandbox's, or a "
        "TLS-inspecting proxy's); default: the system's",
    ),
    Setting(
        CDC_SETTING,
        "`1` turns Change Data Capture on: `serve` runs the listener beside the webhooks, "
        "`leadtherm listen salesforce` on its own, the Lambda `cdc` function on its schedule",
        default="0",
    ),
    Setting(
        "SALESFORCE_CDC_TOPICS",
        "comma-separated change event channels (default: `/data/<Object>ChangeEvent` per mapped object)",
    ),
    Setting(
        "SALESFORCE_CDC_START",
        "where a first start (no stored replay id) begins: `LATEST` or `EARLIEST` (the last 72 h)",
        default="LATEST",
    ),
    Setting("SALESFORCE_CDC_BATCH", "events in flight per topic (`num_requested`, at most 1000)", default="100"),
    Setting(
        "SALESFORCE_CDC_MAX_LAG",
        "seconds behind `commitTimestamp` before the listener's health degrades",
        default="300",
    ),
    Setting(
        "SALESFORCE_CDC_MAX_STALL",
        "seconds events may wait while the stored replay id stands still before `/healthz` is degraded",
        default="60",
    ),
    Setting(
        "SALESFORCE_CDC_MAX_CRASHES",
        "subscriber crashes in a row, with no progress between them, before it gives up (`listen` exits 1)",
        default="5",
    ),
    Setting("SALESFORCE_PUBSUB_ENDPOINT", "Pub/Sub API host:port", default=DEFAULT_PUBSUB_ENDPOINT),
    Setting(
        "SALESFORCE_PUBSUB_CA_BUNDLE",
        "CA file trusted for the Pub/Sub endpoint (default: `SALESFORCE_CA_BUNDLE`, else `REQUESTS_CA_BUNDLE`, "
        "else gRPC's roots)",
    ),
]


def cdc_enabled(env: Mapping[str, str]) -> bool:
    """Whether `serve` and `listen` run the Change Data Capture listener (SALESFORCE_CDC=1)."""
    return env.get(CDC_SETTING, "").strip().lower() in ("1", "true", "yes", "on")
