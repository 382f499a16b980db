"""Log lines as an operator asked for them: text, or one JSON object per line (LEADTHERM_LOG_FORMAT=json).

Every long-running command (serve, console, listen) configures logging through here, so the format is the
same whichever of them writes the line. Lines carry ids, never personal data; an e-mail address that slipped
into a message is masked all the same.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Every attribute a LogRecord has of its own; the rest came in through `extra=` (ids, counts).
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# A safety net under the rule that logs carry ids only: an address that slipped into a message is masked.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
FORMAT_ENV = "LEADTHERM_LOG_FORMAT"


def _masked(text: str) -> str:
    return _EMAIL.sub("<email>", text)


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return _masked(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _masked(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in entry:
                entry[key] = _plain(value)
        if record.exc_info:
            entry["exception"] = _masked(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def log_format(env: Mapping[str, str]) -> str:
    """`json` or `text` (the default); anything else is text, said once on stderr."""
    value = (env.get(FORMAT_ENV) or "text").strip().lower()
    if value not in ("json", "text"):
        print(f"warning: {FORMAT_ENV}={value!r} is neither json nor text; logging text", file=sys.stderr)
        return "text"
    return value


def configure_log_lines(level: int, env: Mapping[str, str], text_format: str = TEXT_FORMAT) -> None:
    """Log to stderr at `level`, as text or JSON lines."""
    logging.basicConfig(level=level, format=text_format)
    if log_format(env) == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
