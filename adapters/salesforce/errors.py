"""Sort simple-salesforce failures into leadtherm's typed errors, in one place."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from integration.errors import (
    AuthError,
    CrmError,
    DailyLimitExhausted,
    PermanentCrmError,
    RateLimited,
    RetriableCrmError,
)

T = TypeVar("T")
RETRIABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"})


def error_items(content: Any) -> list[dict[str, Any]]:
    """Salesforce's error body: a list of {"errorCode"/"statusCode", "message", "fields"}."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    try:
        parsed = json.loads(content) if isinstance(content, str) and content else content
    except ValueError:
        return []
    if isinstance(parsed, dict):
        parsed = [parsed]
    return [p for p in parsed if isinstance(p, dict)] if isinstance(parsed, list) else []


def describe(items: list[dict[str, Any]], status: int) -> str:
    if not items:
        return f"HTTP {status}"
    first = items[0]
    code = first.get("errorCode") or first.get("statusCode") or f"HTTP {status}"
    return f"{code}: {first.get('message', '')}".strip().rstrip(":")


def translate(exc: Exception) -> CrmError:
    if isinstance(exc, requests.exceptions.SSLError):
        # Mostly a CA that is not trusted (the sandbox's own, a corporate proxy): say what to set.
        return RetriableCrmError(
            "Salesforce's TLS certificate is not trusted (SSLError): set SALESFORCE_CA_BUNDLE to the CA bundle "
            "that signed it (the Salesforce sandbox prints its path)"
        )
    if isinstance(exc, requests.RequestException):
        return RetriableCrmError(f"Salesforce unreachable or timed out ({type(exc).__name__})")
    if isinstance(exc, SalesforceAuthenticationFailed):
        return AuthError(f"Salesforce login failed: {exc.code}")
    status = int(getattr(exc, "status", 0) or 0)
    items = error_items(getattr(exc, "content", None))
    text = describe(items, status)
    codes = {i.get("errorCode") for i in items}
    if "REQUEST_LIMIT_EXCEEDED" in codes:
        if any("TotalRequests" in str(i.get("message", "")) for i in items):
            # The org's 24-hour allowance is spent: pause Salesforce rather than retry event by event.
            return DailyLimitExhausted(f"Salesforce daily API limit reached ({text})")
        return RateLimited(f"Salesforce API limit: {text}")  # e.g. concurrent long requests: back off
    if status == 401 or "INVALID_SESSION_ID" in codes:
        return AuthError(f"Salesforce session invalid ({text}); check the SALESFORCE_* credentials")
    if status >= 500 or codes & RETRIABLE_CODES:
        return RetriableCrmError(f"Salesforce error: {text}")
    return PermanentCrmError(f"Salesforce rejected the request: {text}")


def call(request: Callable[[], T]) -> T:
    """Run one SDK request, re-raising its failures as leadtherm's typed errors."""
    try:
        return request()
    except (SalesforceError, requests.RequestException) as exc:
        raise translate(exc) from exc
