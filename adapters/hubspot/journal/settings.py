"""The journal's settings, read once from the environment: every problem at once, each naming its variable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from integration.composition.settings import number_setting
from integration.errors import ConfigError, Problem

ENABLE = "HUBSPOT_JOURNAL"
Env = Mapping[str, str]


def journal_enabled(env: Env) -> bool:
    """Whether `serve` and `leadtherm listen hubspot` run the journal intake (HUBSPOT_JOURNAL=1)."""
    return env.get(ENABLE, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class JournalSettings:
    client_id: str
    client_secret: str
    portal_id: int  # installPortalId: the local journal of the account leadtherm scores
    api_base: str
    start_from: str = "latest"  # with no stored offset: latest, or earliest for a catch-up
    poll_interval: float = 1.0  # seconds between polls once caught up
    max_lag: float = 300.0  # seconds behind the newest entry before /healthz degrades
    catchup_margin: float = 60.0  # seconds searched before the last committed entry after an expired offset

    @classmethod
    def from_env(cls, env: Env, api_base: str) -> JournalSettings:
        problems: list[Problem] = []

        def need(name: str, what: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(Problem("environment", None, name, f"missing: {what}"))
            return value

        def number(name: str, default: float, low: float) -> float:
            return number_setting(env, name, default, low, problems)

        client_id = need("HUBSPOT_CLIENT_ID", "the app's client id (client-credentials token for the journal)")
        secret = need("HUBSPOT_CLIENT_SECRET", "the app's client secret")
        portal_text = need("HUBSPOT_PORTAL_ID", "the installPortalId of the account whose journal is read")
        portal = 0
        if portal_text and (not portal_text.isdigit() or not portal_text.isascii()):
            problems.append(Problem("environment", None, "HUBSPOT_PORTAL_ID", f"{portal_text!r} is not a portal id"))
        elif portal_text:
            portal = int(portal_text)
        start = env.get("HUBSPOT_JOURNAL_START", "latest").strip().lower() or "latest"
        if start not in ("latest", "earliest"):
            problems.append(Problem("environment", None, "HUBSPOT_JOURNAL_START", f"{start!r}: use latest or earliest"))
        poll = number("HUBSPOT_JOURNAL_POLL", 1.0, 0.01)
        lag = number("HUBSPOT_JOURNAL_MAX_LAG", 300.0, 1)
        if problems:
            raise ConfigError(problems)
        return cls(client_id, secret, portal, api_base.rstrip("/"), start, poll, lag)
