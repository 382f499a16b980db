"""Sort HubSpot SDK failures into leadtherm's typed errors, in one place."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsApiException
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException

from integration.errors import (
    AuthError,
    CrmError,
    DailyLimitExhausted,
    PermanentCrmError,
    RateLimited,
    RetriableCrmError,
    UnexpectedAnswer,
)

T = TypeVar("T")

# Each generated API module of the SDK has its own exception classes.
API_EXCEPTIONS: tuple[type[Exception], ...] = (
    ContactsApiException,
    AssociationsApiException,
    PropertiesApiException,
)


def error_body(exc: Any) -> dict[str, Any]:
    """HubSpot's JSON error body, or {} when there is none (any field of it may be missing)."""
    raw = getattr(exc, "body", None)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _header(exc: Any, name: str) -> str | None:
    headers = getattr(exc, "headers", None) or {}
    return next((str(v) for k, v in dict(headers).items() if k.lower() == name.lower()), None)


def _retry_after(exc: Any) -> float | None:
    value = _header(exc, "Retry-After")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    # HubSpot announces its window instead: wait a tenth of it when nothing remains.
    interval = _header(exc, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if _header(exc, "X-HubSpot-RateLimit-Remaining") == "0" and interval and interval.isdigit():
        return int(interval) / 10_000
    return None


def describe(body: dict[str, Any], status: int) -> str:
    category = body.get("category") or f"HTTP {status}"
    message = str(body.get("message") or "").strip()
    return f"{category}: {message}" if message else str(category)


def translate(exc: Exception) -> CrmError:
    """The typed error for an SDK or transport failure."""
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return RetriableCrmError(f"HubSpot unreachable or timed out ({type(exc).__name__})")
    status = int(getattr(exc, "status", 0) or 0)
    body = error_body(exc)
    text = describe(body, status)
    if status == 429 and str(body.get("policyName", "")).upper() == "DAILY":
        return DailyLimitExhausted(f"HubSpot daily API limit reached ({text}); requests resume when it resets")
    if status == 429:
        return RateLimited(f"HubSpot rate limit: {text}", _retry_after(exc))
    if status in (401, 403):
        return AuthError(f"HubSpot refused the token ({text}); check HUBSPOT_ACCESS_TOKEN and its scopes")
    if status == 0 or status >= 500:
        return RetriableCrmError(f"HubSpot error: {text}")
    return PermanentCrmError(f"HubSpot rejected the request: {text}")


_CAUGHT: tuple[type[Exception], ...] = (*API_EXCEPTIONS, urllib3.exceptions.HTTPError)


def call(request: Callable[[], T], *required: str) -> T:
    """Run one SDK request, re-raising its failures as leadtherm's typed errors.

    `required`: attributes HubSpot's documented answer always has. The SDK turns a body it
    cannot parse (a 200 with an HTML page, from a proxy or an outage) into a model whose
    fields are all None; reading that as "no results" would mark records deleted.
    """
    try:
        answer = request()
    except _CAUGHT as exc:
        raise translate(exc) from exc
    absent = [name for name in required if getattr(answer, name, None) is None]
    if absent:
        raise UnexpectedAnswer(f"HubSpot answered without its documented {', '.join(absent)} (not its JSON API body)")
    return answer


def missing_properties(exc: PermanentCrmError) -> list[str]:
    """The property names of PROPERTY_DOESNT_EXIST errors in a rejected batch (HubSpot's 400 VALIDATION_ERROR)."""
    cause = exc.__cause__
    body = error_body(cause) if cause is not None else {}
    names: list[str] = []
    for error in body.get("errors") or []:
        if isinstance(error, dict) and error.get("code") == "PROPERTY_DOESNT_EXIST":
            context = error.get("context") or {}
            names.extend(str(n) for n in context.get("propertyName") or [])
    return names
