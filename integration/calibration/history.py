"""Read a history (a file export, or a CRM through its adapter) into leads, outcomes and as-of moments."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integration.errors import LeadthermError, MappingError
from integration.exports import read_export
from integration.model import Lead
from integration.normalize import Normalizer, to_datetime
from integration.ports import CrmClient
from mappings.catalogue import ATTRIBUTES, Attribute
from mappings.schema import CrmMapping

_YES = frozenset({"1", "true", "yes", "y", "won", "converted"})
_NO = frozenset({"0", "false", "no", "n", "lost", ""})
# With no dates anywhere nothing decays, so any fixed moment will do; fixed keeps runs reproducible.
_NO_DATES = datetime(2000, 1, 1, tzinfo=UTC)
MIN_PER_CLASS = 10  # fewer converters (or non-converters) cannot be split into training and holdout

Flatten = Callable[[Mapping[str, Any]], tuple[str | None, dict[str, Any]]]
# What "converted" means when the history comes from a CRM rather than a file.
CRM_OUTCOMES = {"hubspot": "has_won_deal", "salesforce": "converted"}


class CalibrationError(LeadthermError):
    """The history cannot be learned from; the message names the column."""


@dataclass(frozen=True)
class History:
    """One lead per row, whether it converted (1/0), and the moment to decay its engagement to."""

    source: str
    leads: list[Lead]
    outcomes: list[int]
    as_of: list[datetime]
    # What the mapping fills, the admin's own attributes included: what calibrate may learn from.
    attributes: tuple[Attribute, ...] = tuple(ATTRIBUTES.values())


def default_as_of(leads: Sequence[Lead]) -> datetime:
    """The latest engagement in the history: the export cannot be older, and it never moves with the clock."""
    dates = [lead.last_engagement_at for lead in leads if lead.last_engagement_at is not None]
    return max(dates) if dates else _NO_DATES


def _outcome(raw: Any, where: str, column: str) -> int:
    text = str(raw if raw is not None else "").strip().casefold()
    if text in _YES:
        return 1
    if text in _NO:
        return 0
    raise CalibrationError(f"{where}, column {column}: outcome must be 1/0, true/false or yes/no, got {raw!r}")


def _both_classes(source: str, column: str, outcomes: list[int]) -> None:
    if not outcomes:
        raise CalibrationError(f"{source}: no rows to learn from")
    if len(set(outcomes)) < 2:
        only, value = ("every lead converted", "true") if outcomes[0] else ("no lead converted", "false")
        raise CalibrationError(
            f"{source}: {only} ({column} is {value} for all {len(outcomes)}); a model needs both outcomes"
        )
    rarest = min(sum(outcomes), len(outcomes) - sum(outcomes))
    if rarest < MIN_PER_CLASS:
        raise CalibrationError(
            f"{source}: column {column}: only {rarest} lead(s) on one side of the outcome; "
            f"at least {MIN_PER_CLASS} converted and {MIN_PER_CLASS} not converted are needed"
        )


def read_history(
    path: Path,
    mapping: CrmMapping,
    outcome: str,
    outcome_date: str | None = None,
    as_of: datetime | None = None,
    encoding: str | None = None,
) -> History:
    """Rows of a CSV/JSON export through the admin's mapping; the outcome is a column of 1/0 (yes/no)."""
    normalizer = Normalizer(mapping)
    leads: list[Lead] = []
    outcomes: list[int] = []
    dates: list[datetime | None] = []
    for row in read_export(path, encoding):
        for column in (outcome, outcome_date):
            if column is not None and column not in row.record:
                raise CalibrationError(f"{path}: no column {column!r} (columns: {', '.join(row.record)})")
        outcomes.append(_outcome(row.record[outcome], f"{path}: {row.position}", outcome))
        try:
            leads.append(normalizer.lead(row.record))
            dates.append(to_datetime(row.record[outcome_date]) if outcome_date else None)
        except MappingError as exc:
            raise CalibrationError(f"{path}: {row.position}, column {exc.field}: {exc.reason}") from exc
        except ValueError as exc:
            raise CalibrationError(f"{path}: {row.position}, column {outcome_date}: {exc}") from exc
    _both_classes(str(path), outcome, outcomes)
    fallback = as_of or default_as_of(leads)
    return History(path.name, leads, outcomes, [d or fallback for d in dates], tuple(mapping.attributes_in_use))


def pull_history(
    client: CrmClient,
    mapping: CrmMapping,
    flatten: Flatten,
    outcome: str,
    as_of: datetime | None = None,
    page_size: int = 100,
) -> History:
    """Every record of the CRM through its adapter; the outcome is a Lead attribute (has_won_deal, converted)."""
    found = mapping.attribute(outcome)
    if found is None or found.kind != "boolean":
        known = ", ".join(a.name for a in mapping.attributes_in_use if a.kind == "boolean")
        raise CalibrationError(f"{mapping.crm}: outcome {outcome!r} is not a yes/no Lead attribute ({known})")
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
    outcomes = [int(lead.get(outcome) is True) for lead in leads]
    _both_classes(mapping.crm, outcome, outcomes)
    moment = as_of or default_as_of(leads)
    return History(mapping.crm, leads, outcomes, [moment] * len(leads), tuple(mapping.attributes_in_use))
