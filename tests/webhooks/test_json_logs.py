"""LEADTHERM_LOG_FORMAT=json: one JSON object per line, the record's extras as keys, no e-mail address."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import pytest

from integration.log_format import JsonFormatter, log_format


def logged(emit: Callable[[logging.Logger], None]) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("leadtherm.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    entry: dict[str, object] = json.loads(line)
    return entry


def test_a_record_id_passed_as_extra_is_a_key_of_its_own() -> None:
    entry = logged(lambda log: log.warning("dead-lettered %d event(s)", 2, extra={"record": "hubspot:contact:1001"}))
    assert entry["level"] == "WARNING" and entry["logger"] == "leadtherm.test.json"
    assert entry["message"] == "dead-lettered 2 event(s)"
    assert entry["record"] == "hubspot:contact:1001"
    assert str(entry["time"]).endswith("+00:00")


def test_an_email_address_that_slipped_into_a_message_is_masked() -> None:
    entry = logged(lambda log: log.error("cannot assess %s", "cto@nordlys.example"))
    assert entry["message"] == "cannot assess <email>"


def test_an_exception_is_one_key_of_the_same_line() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("for vp@fjord.example")
        except ValueError:
            log.exception("failed")

    entry = logged(emit)
    assert "ValueError: for <email>" in str(entry["exception"])


@pytest.mark.parametrize(("value", "expected"), [("json", "json"), ("JSON", "json"), ("", "text"), ("xml", "text")])
def test_the_log_format_setting_is_json_or_text(value: str, expected: str) -> None:
    assert log_format({"LEADTHERM_LOG_FORMAT": value}) == expected
