"""The contract between the web layer and an adapter's webhook handling, free of Flask.

The web layer hands an adapter the raw request; the adapter verifies it on the raw
bytes, parses it, calls `enqueue` (durable) and only then renders its acknowledgement.
"""

from __future__ import annotations

import json
import logging
import threading
import time
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


class RejectionLog:
    """Warnings for refused requests, at most one per `interval` seconds: anyone can send them.

    The first refusal is logged at once; those that follow within the interval are counted
    and reported in the next line, so a flood of forgeries costs one line a minute.
    """

    def __init__(
        self, logger: logging.Logger, what: str, interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger, self.what, self.interval, self.clock = logger, what, interval, clock
        self._lock = threading.Lock()
        self._count = 0
        self._next_line = float("-inf")

    def __call__(self, reason: str) -> None:
        with self._lock:
            self._count += 1
            now = self.clock()
            if now < self._next_line:
                return
            count, self._count, self._next_line = self._count, 0, now + self.interval
        if count == 1:
            self.logger.warning("rejected %s: %s", self.what, reason)
        else:
            self.logger.warning("rejected %d %s since the last such line (latest: %s)", count, self.what, reason)


def secrets_setting(value: str | None) -> list[str]:
    """A comma-separated list of secrets (two during a rotation), blanks dropped."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True, slots=True)
class InboundRequest:
    method: str
    url: str  # the public URL the CRM called (what a CRM may sign)
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
    """One webhook endpoint of an adapter, e.g. POST /webhooks/<crm>."""

    path: str

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        """Verify, parse, enqueue durably, then acknowledge; never raise for bad input."""
        ...

    def cannot_verify(self) -> str | None:
        """Why this route would refuse every delivery (e.g. "X_SECRET not set"), or None when it can verify."""
        ...
