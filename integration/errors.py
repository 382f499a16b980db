"""Typed errors; each carries what a person needs to fix the cause."""

from __future__ import annotations

from mappings.errors import ConfigError, Problem

__all__ = [
    "AuthError",
    "ConfigError",
    "CrmError",
    "CrmWideError",
    "DailyLimitExhausted",
    "InvalidSetting",
    "LeadthermError",
    "MappingError",
    "MissingSetting",
    "OutputFieldsMissing",
    "PayloadError",
    "PermanentCrmError",
    "Problem",
    "RateLimited",
    "RetriableCrmError",
    "RetryBudgetError",
    "UnexpectedAnswer",
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
    """The CRM answered 429 for its short window (seconds): wait and go on."""


class UnexpectedAnswer(RetriableCrmError):
    """The CRM answered something other than its documented body (an HTML page from a proxy or an outage)."""


class PermanentCrmError(CrmError):
    """Validation error, unknown field, bad option: retrying cannot help until someone fixes it."""


class CrmWideError(CrmError):
    """Every call to this CRM fails until something changes outside leadtherm: pause it, keep its events."""


class AuthError(CrmWideError):
    """The CRM rejected the credentials (revoked or expired token, missing scope)."""


class DailyLimitExhausted(CrmWideError):
    """The CRM's daily API allowance is spent: no request can succeed before it refills."""


class OutputFieldsMissing(CrmWideError):
    """The fields leadtherm writes do not exist in the CRM (setup never ran, or a field was renamed)."""

    def __init__(self, crm: str, fields: list[str]) -> None:
        self.crm = crm
        self.fields = fields
        super().__init__(
            f"{crm} has no output field(s) {', '.join(sorted(fields))}: run leadtherm setup {crm} "
            "(or fix the field names under outputs in the mapping)"
        )


class RetryBudgetError(LeadthermError):
    """A lease or a Lambda timeout too short to hold the retry policy's worst-case CRM call."""


class VerificationError(LeadthermError):
    """A webhook failed signature, timestamp or origin checks (answered 401)."""


class PayloadError(LeadthermError):
    """A webhook body is malformed (answered 400)."""
