"""Avro payloads of Pub/Sub events: schemas cached by schema id, bitmap field lists decoded."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException, UnknownType

from integration.errors import LeadthermError


class EventDecodeError(LeadthermError):
    """A payload does not match the schema its event names (a bug on one side, not a retry)."""


class SchemaUnusable(EventDecodeError):
    """The schema an event names cannot be had or read: GetSchema does not know it, or it is not Avro."""


@dataclass(frozen=True)
class EventSchema:
    """One schema: its id, the parsed form fastavro reads with, and the top-level field names."""

    schema_id: str
    parsed: Any
    fields: tuple[str, ...]
    children: Mapping[int, tuple[str, ...]]  # compound fields (Name, Address): position -> child names

    @classmethod
    def from_json(cls, schema_id: str, text: str) -> EventSchema:
        try:
            return cls._parse(schema_id, text)
        except (ValueError, TypeError, KeyError, AttributeError, SchemaParseException, UnknownType) as exc:
            raise SchemaUnusable(f"schema {schema_id} is not a readable Avro schema: {type(exc).__name__}") from exc

    @classmethod
    def _parse(cls, schema_id: str, text: str) -> EventSchema:
        raw = json.loads(text)
        fields = tuple(str(f["name"]) for f in raw.get("fields", []))
        children: dict[int, tuple[str, ...]] = {}
        for position, spec in enumerate(raw.get("fields", [])):
            record = _record_of(spec.get("type"))
            if record is not None and spec["name"] != "ChangeEventHeader":
                children[position] = tuple(str(f["name"]) for f in record.get("fields", []))
        return cls(schema_id, fastavro.parse_schema(raw), fields, children)

    def decode(self, payload: bytes) -> dict[str, Any]:
        try:
            record: Any = fastavro.schemaless_reader(io.BytesIO(payload), self.parsed, None)
        except (EOFError, ValueError, TypeError, IndexError) as exc:
            raise EventDecodeError(f"payload does not match schema {self.schema_id}: {type(exc).__name__}") from exc
        if not isinstance(record, dict):
            raise EventDecodeError(f"schema {self.schema_id} does not describe a record")
        return record

    def field_names(self, bitmaps: list[str]) -> list[str]:
        """`changedFields`/`nulledFields` as sent by the Pub/Sub API -> CRM field names.

        The API sends a hex bitmap over the schema's top-level fields ("0x650004E0": bit n set =
        field n changed) and, for compound fields, "<position>-0x<bitmap over its children>".
        A compound's children (FirstName in Name) are what the REST API calls the fields.
        Plain names (as the Streaming API sends them) pass through.
        """
        names: list[str] = []
        for entry in bitmaps:
            if entry.startswith("0x"):
                names.extend(_set_bits(entry, self.fields))
            elif "-0x" in entry:
                position, _, bitmap = entry.partition("-")
                if position.isdigit() and int(position) in self.children:
                    names.extend(_set_bits(bitmap, self.children[int(position)]))
            else:
                names.append(entry.rsplit(".", 1)[-1])
        return names


def _set_bits(bitmap: str, fields: tuple[str, ...]) -> list[str]:
    try:
        value = int(bitmap, 16)
    except ValueError:
        return []
    return [name for position, name in enumerate(fields) if value >> position & 1]


def _record_of(kind: Any) -> dict[str, Any] | None:
    """The record inside a field type (itself, or the record branch of a ["null", record] union)."""
    if isinstance(kind, dict) and kind.get("type") == "record":
        return kind
    if isinstance(kind, list):
        return next((k for k in kind if isinstance(k, dict) and k.get("type") == "record"), None)
    return None


class SchemaCache:
    """Schemas by id, fetched once each through `fetch` (GetSchema); thread-safe."""

    def __init__(self, fetch: Callable[[str], str]) -> None:
        self._fetch = fetch
        self._schemas: dict[str, EventSchema] = {}
        self._unusable: dict[str, SchemaUnusable] = {}  # asked once: a batch of poison events is one GetSchema
        self._lock = threading.Lock()
        self.fetched = 0

    def get(self, schema_id: str) -> EventSchema:
        found = self._schemas.get(schema_id)
        if found is None:
            known_bad = self._unusable.get(schema_id)
            if known_bad is not None:
                raise known_bad
            try:
                text = self._fetch(schema_id)  # outside the lock: a slow GetSchema must not block decoding
                found = EventSchema.from_json(schema_id, text)
            except SchemaUnusable as exc:
                with self._lock:
                    self._unusable[schema_id] = exc
                raise
            with self._lock:
                self._schemas.setdefault(schema_id, found)
                self.fetched += 1
        return found
