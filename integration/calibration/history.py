"""Read a history export: one row per lead, an outcome column, through the admin's mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.errors import LeadthermError, MappingError
from integration.exports import read_export
from integration.model import Lead
from integration.normalize import Normalizer
from integration.ports import CrmClient
from mappings.schema import CrmMapping

_YES = {"1", "true", "yes", "y", "won", "converted"}
_NO = {"0", "false", "no", "n", "lost", "", "open"}


Flatten = Callable[[Mapping[str, Any]], tuple[str | None, dict[str, Any]]]
# What "converted" means when the history comes from a CRM rather than a file.
CRM_OUTCOMES = {"hubspot": "has_won_deal", "salesforce": "converted"}


class CalibrationError(LeadthermError):
    """The history cannot be learned from; the message names the column."""


@dataclass(frozen=True)
class History:
    leads: list[Lead]
    outcomes: list[int]


def pull_history(
    client: CrmClient, mapping: CrmMapping, flatten: Flatten, outcome: str, page_size: int = 100
) -> History:
    """Every record of the CRM through its adapter; the outcome is a Lead attribute (has_won_deal, converted)."""
    normalizer = Normalizer(mapping)
    leads: list[Lead] = []
    for object_type in mapping.objects:
        cursor: str | None = None
        while True:
            page = client.page(object_type, cursor, page_size)
            for ref, record in page.records:
                _, flat = flatten(record)
                try:
                    leads.append(normalizer.lead(flat, ref.object_type))
                except MappingError as exc:
                    raise CalibrationError(f"{ref}: field {exc.field}: {exc.reason}") from exc
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    outcomes = [int(bool(getattr(lead, outcome))) for lead in leads]
    if len(set(outcomes)) < 2:
        raise CalibrationError(
            f"{mapping.crm}: every record has {outcome} = {bool(outcomes and outcomes[0])}; a model needs both outcomes"
        )
    return History(leads, outcomes)


def read_history(path: Path, mapping: CrmMapping, outcome: str) -> History:
    normalizer = Normalizer(mapping)
    leads: list[Lead] = []
    outcomes: list[int] = []
    for row in read_export(path):
        if outcome not in row.record:
            raise CalibrationError(f"{path}: no outcome column {outcome!r} (columns: {', '.join(row.record)})")
        raw = str(row.record[outcome] or "").strip().casefold()
        if raw not in _YES | _NO:
            raise CalibrationError(
                f"{path}: {row.position}, column {outcome}: outcome must be 1/0 or true/false, got {raw!r}"
            )
        try:
            leads.append(normalizer.lead(row.record))
        except MappingError as exc:
            raise CalibrationError(f"{path}: {row.position}, column {exc.field}: {exc.reason}") from exc
        outcomes.append(1 if raw in _YES else 0)
    if len(set(outcomes)) < 2:
        only = "converted" if outcomes and outcomes[0] else "did not convert"
        raise CalibrationError(f"{path}: column {outcome}: every lead {only}; a model needs both outcomes")
    return History(leads, outcomes)
