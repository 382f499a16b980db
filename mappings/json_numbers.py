"""JSON's own numbers only: NaN and Infinity refused where leadtherm parses a body or a file.

Apart from mappings.documents (which needs PyYAML) so that the webhook routes read JSON without loading YAML.
"""

from __future__ import annotations

from typing import Any


class NonStandardNumber(ValueError):
    """NaN, Infinity or -Infinity: accepted by Python's json module, but not JSON (RFC 8259)."""

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__(f"{token} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def refuse_constant(token: str) -> Any:
    """A json.loads parse_constant that refuses NaN, Infinity and -Infinity."""
    raise NonStandardNumber(token)
