"""Read a history (a file export, or a CRM through its adapter) into leads, outcomes and as-of moments."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integration.domain.model import Lead
from integration.domain.normalize import Normalizer, to_datetime
from integration.errors import LeadthermError, MappingError
from integration.files.exports import read_export
from integration.ports import CrmClient
from mappings.catalogue import ATTRIBUTES, Attribute
from mappings.schema import CrmMapping

_YES = frozenset({"1", "true", "yes", "y", "won", "converted"})
_NO = frozenset({"0", "false", "no", "n", "lost", ""})
# With no dates anywhere nothing decays, so any fixed moment will do; fixed keeps runs reproducible.
_NO_DATES = datetime(2000, 1, 1, tzinfo=UTC)
MIN_PER_CLASS = 10  # fewer converters (or non-converters) cannot be split into training and holdout

Flatten = Callable[[Mapping[str, Any]], tuple[str | None, dict[str, Any]]]


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
    # When each lead was created (a --date-column, or the CRM's creation date): the holdout is then
    # the most recent leads, so the figures say how the rules would have done going forward.
    created: tuple[datetime, ...] | None = None
    created_from: str | None = None  # the column or CRM field `created` was read from
    # The mapping the history was read through: which columns are declared known only after contact.
    mapping: CrmMapping | None = None


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


def closest(name: str, columns: Collection[str]) -> str:
    """ ", closest: A, B" naming the columns most like a name that is not there (a typo), or nothing."""
    near = difflib.get_close_matches(name, list(columns), n=3, cutoff=0.5)
    if not near:
        folded = {c.casefold(): c for c in columns}
        near = [folded[c] for c in difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.5)]
    return f"; closest: {', '.join(near)}" if near else ""


def _mapped_fields_present(path: Path, mapping: CrmMapping, columns: Collection[str]) -> None:
    """Each attribute's field is a column of the history: a typo would otherwise drop an attribute.

    An attribute read from several fields (a Lead's `Industry`, a Contact's `Account.Industry`) needs one
    of them: a Lead export has no Account columns.
    """
    for name, found in mapping.sources().items():
        if found.sources and not any(field in columns for field in found.sources):
            field = found.sources[0]
            raise CalibrationError(
                f"{path}: the mapping reads {name} from column {field!r}, which the history does not have"
                f"{closest(field, columns)}"
            )


def _date(value: Any, where: str, column: str) -> datetime:
    try:
        found = to_datetime(value)
    except ValueError as exc:
        raise CalibrationError(f"{where}, column {column}: {exc}") from None
    if found is None:
        raise CalibrationError(f"{where}, column {column}: no date (every lead needs one to order the holdout)")
    return found


def read_history(
    path: Path,
    mapping: CrmMapping,
    outcome: str,
    outcome_date: str | None = None,
    as_of: datetime | None = None,
    encoding: str | None = None,
    date_column: str | None = None,
) -> History:
    """Rows of a CSV/JSON export through the admin's mapping; the outcome is a column of 1/0 (yes/no).

    `date_column` names each lead's creation date: the holdout is then the most recent leads.
    """
    normalizer = Normalizer(mapping)
    leads: list[Lead] = []
    outcomes: list[int] = []
    dates: list[datetime | None] = []
    created: list[datetime] = []
    columns: dict[str, None] = {}
    for row in read_export(path, encoding):
        columns.update(dict.fromkeys(row.record))
        for column in (outcome, outcome_date, date_column):
            if column is not None and column not in row.record:
                raise CalibrationError(
                    f"{path}: no column {column!r}{closest(column, columns)} (columns: {', '.join(row.record)})"
                )
        where = f"{path}: {row.position}"
        outcomes.append(_outcome(row.record[outcome], where, outcome))
        if date_column is not None:
            created.append(_date(row.record[date_column], where, date_column))
        try:
            leads.append(normalizer.lead(row.record))
            dates.append(to_datetime(row.record[outcome_date]) if outcome_date else None)
        except MappingError as exc:
            raise CalibrationError(f"{where}, column {exc.field}: {exc.reason}") from exc
        except ValueError as exc:
            raise CalibrationError(f"{where}, column {outcome_date}: {exc}") from exc
    if columns:
        _mapped_fields_present(path, mapping, columns)
    _both_classes(str(path), outcome, outcomes)
    fallback = as_of or default_as_of(leads)
    return History(
        path.name,
        leads,
        outcomes,
        [d or fallback for d in dates],
        tuple(mapping.attributes_in_use),
        tuple(created) if date_column is not None else None,
        date_column,
        mapping,
    )


def pull_history(
    client: CrmClient,
    mapping: CrmMapping,
    flatten: Flatten,
    outcome: str,
    as_of: datetime | None = None,
    page_size: int = 100,
    created_field: str | None = None,
) -> History:
    """Every record of the CRM through its adapter; the outcome is a yes/no Lead attribute (the plugin's
    `calibration.outcome` by default), `created_field` the flattened field that dates each record."""
    found = mapping.attribute(outcome)
    if found is None or found.kind != "boolean":
        known = ", ".join(a.name for a in mapping.attributes_in_use if a.kind == "boolean")
        raise CalibrationError(f"{mapping.crm}: outcome {outcome!r} is not a yes/no Lead attribute ({known})")
    normalizer = Normalizer(mapping)
    leads: list[Lead] = []
    created: list[datetime | None] = []
    for object_type in mapping.objects:
        cursor: str | None = None
        while True:
            page = client.page(object_type, cursor, page_size)
            for ref, record in page.records:
                _, flat = flatten(record)
                try:
                    leads.append(normalizer.lead(flat, ref.object_type))
                    created.append(to_datetime(flat.get(created_field)) if created_field else None)
                except MappingError as exc:
                    raise CalibrationError(f"{ref}: field {exc.field}: {exc.reason}") from exc
                except ValueError:
                    created.append(None)  # an unreadable creation date only costs the forward split
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    outcomes = [int(lead.get(outcome) is True) for lead in leads]
    _both_classes(mapping.crm, outcome, outcomes)
    moment = as_of or default_as_of(leads)
    # Forward in time only when every record says when it was created; otherwise a stratified split.
    dated = tuple(d for d in created if d is not None)
    forward = created_field is not None and len(dated) == len(leads)
    return History(
        mapping.crm,
        leads,
        outcomes,
        [moment] * len(leads),
        tuple(mapping.attributes_in_use),
        dated if forward else None,
        created_field if forward else None,
        mapping,
    )
