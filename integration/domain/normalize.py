"""Turn a flat CRM record into a Lead through an admin's mapping (CRM-neutral).

A mapping is compiled once into one small function per attribute; each raises
MappingError naming the CRM field, the attribute and the kind of problem. Never the
value: it may be personal data, and the error reaches logs, dead letters and the audit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from integration.domain.model import Lead, Stage
from integration.errors import MappingError
from integration.ports import RawRecord
from mappings.catalogue import EMPTY, Attribute
from mappings.patterns import compile_pattern
from mappings.schema import AttributeMapping, CrmMapping

Convert = Callable[[Any], Any]

_TRUE = frozenset({"true", "1", "yes", "y", "t", "on", "checked"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "off", "unchecked"})
_EPOCH_MS = re.compile(r"^-?\d{10,14}$")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_text(value: Any) -> str | None:
    return None if _empty(value) else str(value).strip()


def to_number(value: Any) -> float | None:
    if _empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number, got true/false")
    try:
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("expected a number") from None
    if not math.isfinite(number):
        raise ValueError("expected a finite number (got infinity or NaN)")
    return number


def to_integer(value: Any) -> int | None:
    number = to_number(value)
    if number is None:
        return None
    if number < 0:
        raise ValueError("expected a count (0 or more), got a negative number")
    return int(number)


def to_boolean(value: Any) -> bool | None:
    if _empty(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def to_checkbox(value: Any) -> bool | None:
    """A checkbox a rep ticks once something is confirmed: ticked is True, unticked is not known yet.

    A Salesforce checkbox is never null, so false cannot mean "ruled out"; that only comes from
    explicit evidence an admin maps (a picklist answer, a status such as Unqualified).
    """
    return True if to_boolean(value) else None


def to_datetime(value: Any) -> datetime | None:
    """ISO 8601 (date or date-time) or epoch milliseconds, as an aware UTC datetime."""
    if value.__class__ is str:  # what every export holds: straight to the text
        text = value.strip()
        if not text:
            return None
        # "2026-09-03..." has its year's dash where epoch milliseconds have a digit: no regex for it.
        if text[4:5] == "-" or not _EPOCH_MS.match(text):
            return _iso_datetime(text)
        value = text
    if _empty(value):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        if _EPOCH_MS.match(text):
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError("expected a date: epoch milliseconds out of range") from None
    return _iso_datetime(text)


def _iso_datetime(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError("expected an ISO 8601 date or epoch milliseconds") from None
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_email_domain(value: Any) -> str | None:
    text = to_text(value)
    if text is None:
        return None
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain:
        raise ValueError("expected an e-mail address")  # the value itself is personal data
    return domain.casefold()


def _lower(value: Any) -> str | None:
    text = to_text(value)
    return None if text is None else text.casefold()


def _stage(value: Any) -> Stage | None:
    text = to_text(value)
    if text is None:
        return None
    try:
        return Stage(text)
    except ValueError:
        raise ValueError("expected a stage") from None


_BY_TRANSFORM: dict[str, Convert] = {
    "text": to_text,
    "lower": _lower,
    "integer": to_integer,
    "number": to_number,
    "boolean": to_boolean,
    "datetime": to_datetime,
    "email_domain": to_email_domain,
    "present": lambda v: not _empty(v),
    "positive": lambda v: (to_number(v) or 0.0) > 0,
    "checkbox": to_checkbox,
}
_BY_KIND: dict[str, Convert] = {
    "text": to_text,
    "integer": to_integer,
    "number": to_number,
    "boolean": to_boolean,
    "datetime": to_datetime,
    "stage": _stage,
}


def _seniority(mapping: CrmMapping) -> Convert:
    patterns = [(compile_pattern(p.pattern), p.value) for p in mapping.seniority]

    def classify(value: Any) -> str | None:
        text = to_text(value)
        if text is None:
            return None
        return next((label for pattern, label in patterns if pattern.search(text)), None)

    return classify


class SourceError(ValueError):
    """A value of one of several source fields cannot be read; names that field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(reason)


def _each(record: RawRecord, sources: list[str], convert: Convert) -> list[Any]:
    values = []
    for name in sources:
        try:
            values.append(convert(record.get(name)))
        except ValueError as exc:
            raise SourceError(name, str(exc)) from None
    return values


def _latest(record: RawRecord, sources: list[str]) -> datetime | None:
    """The latest date among the sources (the first of equal ones); a missing column is no date."""
    latest: datetime | None = None
    for name in sources:
        raw = record.get(name)
        if raw is None:
            continue
        try:
            moment = to_datetime(raw)
        except ValueError as exc:
            raise SourceError(name, str(exc)) from None
        if moment is not None and (latest is None or moment > latest):
            latest = moment
    return latest


def _picker(spec: AttributeMapping) -> Callable[[RawRecord], Any]:
    sources = spec.sources
    if len(sources) == 1:
        name = sources[0]
        return lambda record: record.get(name)
    if spec.pick == "latest":
        return lambda record: _latest(record, sources)
    if spec.pick == "sum":
        return lambda record: sum(v or 0.0 for v in _each(record, sources, to_number))
    if spec.pick == "any":
        return lambda record: any(_each(record, sources, to_boolean))
    return lambda record: next((v for n in sources if not _empty(v := record.get(n))), None)


@dataclass(frozen=True, slots=True)
class _Unmapped:
    """What a `map` lookup returns for a value it does not list: the default to read instead (and counted)."""

    default: Any


_MISSING = object()


def _mapper(spec: AttributeMapping) -> Convert | None:
    if spec.map is None:
        return None
    exact = dict(spec.map)
    folded = {str(k).casefold(): v for k, v in exact.items()}
    default = spec.default

    def lookup(value: Any) -> Any:
        if _empty(value):
            return default
        key = str(value).strip()
        if key in exact:
            return exact[key]
        found = folded.get(key.casefold(), _MISSING)
        if found is not _MISSING:
            return found
        # A declared default is the admin's answer for every other value: nothing to tell them.
        return default if default is not None else _Unmapped(None)

    return lookup


def _then(first: Convert, second: Convert) -> Convert:
    return lambda value: second(first(value))


@dataclass(frozen=True, slots=True)
class _Field:
    attribute: str
    source: str
    pick: Callable[[RawRecord], Any]
    map: Convert | None
    convert: Convert
    default: Any
    single: bool = False  # read from one column: its outcome depends on that column's value alone


def _compile_field(attribute: Attribute, spec: AttributeMapping, mapping: CrmMapping) -> _Field:
    if spec.transform == "seniority":
        convert = _seniority(mapping)
    elif spec.transform is not None:
        transform = _BY_TRANSFORM[spec.transform]
        final = _BY_KIND[attribute.kind]
        convert = transform if transform is final else _then(transform, final)
    elif attribute.role == "criterion" and spec.map is None:
        # A rep's checkbox: unticked is "not confirmed yet", never "ruled out" (see to_checkbox).
        convert = to_checkbox
    else:
        convert = _BY_KIND[attribute.kind]
    default = None if spec.map is not None else spec.default
    single = len(spec.sources) == 1
    return _Field(attribute.name, ", ".join(spec.sources), _picker(spec), _mapper(spec), convert, default, single)


_REMEMBERED = 4096  # outcomes per column; past it the column starts over (memory stays bounded)


def _pick(spec: _Field, record: RawRecord) -> Any:
    """The value a field's `pick` makes of its several columns."""
    try:
        return spec.pick(record)
    except SourceError as exc:
        raise MappingError(exc.field, spec.attribute, str(exc)) from None
    except ValueError as exc:
        raise MappingError(spec.source, spec.attribute, str(exc)) from None


def _outcome(spec: _Field, raw: Any) -> tuple[Any, bool]:
    """What a field reads from its raw value, and whether its `map` left that value unlisted."""
    try:
        read = raw
        missing = False
        if spec.map is not None:
            read = spec.map(read)
            if read.__class__ is _Unmapped:
                missing = True
                read = read.default
        value = spec.convert(read)
    except SourceError as exc:
        raise MappingError(exc.field, spec.attribute, str(exc)) from None
    except ValueError as exc:
        raise MappingError(spec.source, spec.attribute, str(exc)) from None
    return (spec.default if value is None else value), missing


@dataclass(frozen=True, slots=True)
class Reading:
    """A lead read from a record, and the fields whose value the mapping's `map` did not list."""

    lead: Lead
    unmapped: tuple[str, ...] = ()


class Normalizer:
    """A compiled mapping: flat CRM record -> Lead."""

    def __init__(self, mapping: CrmMapping, remember: bool = False) -> None:
        """`remember`: keep each one-column field's outcome per raw value (bounded), for a file of many rows.

        Exports repeat their values (titles, industries, countries, counts), and a title read
        through the seniority patterns costs more than the lookup.
        """
        self.mapping = mapping
        self._fields = [
            _compile_field(attribute, mapping.sources()[attribute.name], mapping)
            for attribute in mapping.attributes_in_use
        ]
        # Per field: its one column (read straight from the record) or None (its `pick` reads several),
        # and the outcomes remembered per raw value of that column (`remember` only).
        self._plan: list[tuple[_Field, str | None, dict[Any, tuple[Any, bool]] | None]] = [
            (spec, spec.source if spec.single else None, {} if remember and spec.single else None)
            for spec in self._fields
        ]

    def read(self, record: RawRecord, object_type: str | None = None) -> Reading:
        """Build the Lead; raises MappingError naming the first field that cannot be read."""
        get = record.get
        record_id = to_text(get(self.mapping.id_field))
        if record_id is None:
            raise MappingError(self.mapping.id_field, "record_id", "missing record id")
        values: dict[str, Any] = dict(EMPTY)
        unmapped: list[str] = []
        for spec, column, memo in self._plan:
            raw = get(column) if column is not None else _pick(spec, record)
            if memo is not None and (raw.__class__ is str or raw is None):
                known = memo.get(raw)
                if known is None:
                    known = _outcome(spec, raw)
                    if len(memo) >= _REMEMBERED:
                        memo.clear()
                    memo[raw] = known
            else:
                known = _outcome(spec, raw)
            value, missing = known
            if missing:
                unmapped.append(spec.source)
            if value is not None:
                values[spec.attribute] = value
        lead = Lead(self.mapping.crm, record_id, object_type or self.mapping.objects[0], values)
        return Reading(lead, tuple(unmapped))

    def lead(self, record: RawRecord, object_type: str | None = None) -> Lead:
        return self.read(record, object_type).lead
