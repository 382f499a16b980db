"""Typed errors; each carries what a person needs to fix the cause."""

from __future__ import annotations

from mappings.errors import ConfigError, Problem

__all__ = [
    "AuthError",
    "ConfigError",
    "CrmError",
    "InvalidSetting",
    "LeadthermError",
    "MappingError",
    "MissingSetting",
    "PayloadError",
    "PermanentCrmError",
    "Problem",
    "RateLimited",
    "RetriableCrmError",
    "VerificationError",
]


class LeadthermError(Exception):
    """Base of every error leadtherm raises on purpose."""


class MissingSetting(LeadthermError):
    """An environment variable a command needs is not set."""

    def __init__(self, name: str, purpose: str) -> None:
        self.name = name
        super().__init__(f"environment variable {name} is not set ({purpose})")


class InvalidSetting(LeadthermError):
    """An environment variable is set but cannot be used; the message says what it should hold, never its value."""

    def __init__(self, name: str, expected: str) -> None:
        self.name = name
        super().__init__(f"environment variable {name} is not valid: expected {expected}")


class MappingError(LeadthermError):
    """A CRM value cannot be turned into a Lead attribute."""

    def __init__(self, field: str, attribute: str, reason: str) -> None:
        self.field = field
        self.attribute = attribute
        self.reason = reason
        super().__init__(f"field {field!r} -> {attribute}: {reason}")


class CrmError(LeadthermError):
    """A CRM API call failed."""


class RetriableCrmError(CrmError):
    """Rate limit, 5xx, timeout: worth retrying, after `retry_after` seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class RateLimited(RetriableCrmError):
    """The CRM answered 429 (or its daily-limit equivalent)."""


class PermanentCrmError(CrmError):
    """Validation error, unknown field, bad option: retrying cannot help until someone fixes it."""


class AuthError(CrmError):
    """The CRM rejected the credentials."""


class VerificationError(LeadthermError):
    """A webhook failed signature, timestamp or origin checks (answered 401)."""


class PayloadError(LeadthermError):
    """A webhook body is malformed (answered 400)."""
