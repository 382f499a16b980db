"""The contract between the web layer and an adapter's webhook handling, free of Flask.

The web layer hands an adapter the raw request; the adapter verifies it on the raw
bytes, parses it, calls `enqueue` (durable) and only then renders its acknowledgement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from integration.errors import LeadthermError
from integration.ports import ChangeEvent

Enqueue = Callable[[Sequence[ChangeEvent]], None]


class WebhookSettingError(LeadthermError):
    """A webhook setting (an environment variable) is malformed: named, with what it should hold."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"environment variable {name}: {problem}")


def secrets_setting(value: str | None) -> list[str]:
    """A comma-separated list of secrets (two during a rotation), blanks dropped."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True, slots=True)
class InboundRequest:
    method: str
    url: str  # the public URL the CRM called (what HubSpot signs)
    headers: Mapping[str, str]  # case-insensitive lookups are the route's job: use `header`
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class InboundResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    events: int = 0  # how many events were queued (for logs and metrics)

    @classmethod
    def reject(cls, status: int, reason: str) -> InboundResponse:
        """A JSON refusal that tells the sender why (never echoing secrets or payload data)."""
        body = json.dumps({"error": _STATUS_NAMES.get(status, "Error"), "reason": reason}).encode()
        return cls(status, body, "application/json")


_STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    413: "Payload Too Large",
    503: "Service Unavailable",
}


class InboundRoute(Protocol):
    """One webhook endpoint of an adapter, e.g. POST /webhooks/hubspot."""

    path: str

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        """Verify, parse, enqueue durably, then acknowledge; never raise for bad input."""
        ...
