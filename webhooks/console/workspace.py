"""Each admin's work in progress: the draft files, the sample records and the history they uploaded.

The draft files are the admin's durable draft (a DraftStore, by author), read at the start of
each request and saved after it; the samples, history and what-if are held in the console's
memory per login session. Bounded: the least recently used workspaces go first.
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from integration.calibration.history import History, default_as_of, read_history
from integration.calibration.session import Outcome
from integration.domain.normalize import Normalizer
from integration.domain.whatif import Sample, WhatIf
from integration.errors import LeadthermError, MappingError
from integration.files.exports import read_export
from integration.ports import Draft, RawRecord, RecordRef
from mappings.schema import CrmMapping
from webhooks.console.merge import Conflict

MAX_WORKSPACES = 64
MAX_SAMPLES = 500
COMPANY_FIELDS = ("company", "Company", "Account.Name", "account_name")

Flatten = Callable[[Mapping[str, Any]], tuple[str | None, dict[str, Any]]]


@dataclass
class Workspace:
    files: dict[str, str]
    base_head: int
    base: dict[str, str] = field(default_factory=dict)  # the files of version base_head
    conflicts: list[Conflict] = field(default_factory=list)  # with another admin's apply, not yet chosen
    loaded: dict[str, str] = field(default_factory=dict)  # the files as read from the draft store
    samples: list[Sample] = field(default_factory=list)
    samples_source: str = ""
    samples_crm: str = ""
    skipped: list[str] = field(default_factory=list)
    history: History | None = None
    whatif: WhatIf | None = None
    whatif_key: tuple[int, str, str] | None = None
    calibrated: WhatIf | None = None
    calibrated_yaml: str = ""
    notes: list[str] = field(default_factory=list)  # calibration warnings and the like
    learned: Outcome | None = None  # the last Learn: its warnings and columns left out gate "use as my draft"

    def use_history(self, history: History) -> None:
        """A new history: the what-if and calibration computed on the old one no longer hold."""
        self.history = history
        self.calibrated, self.calibrated_yaml, self.whatif, self.whatif_key = None, "", None, None
        self.learned = None


class Workspaces:
    """Workspaces by session id."""

    def __init__(self, limit: int = MAX_WORKSPACES) -> None:
        self.limit = limit
        self._items: OrderedDict[str, Workspace] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sid: str, fresh: Callable[[], Workspace]) -> Workspace:
        with self._lock:
            found = self._items.get(sid)
            if found is None:
                found = self._items[sid] = fresh()
            self._items.move_to_end(sid)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
            return found

    def drop(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)


class MemoryDrafts:
    """Drafts in the console's memory, where the state store keeps none (a restart loses them)."""

    def __init__(self) -> None:
        self._drafts: dict[str, Draft] = {}
        self._lock = threading.Lock()

    def load_draft(self, author: str) -> Draft | None:
        with self._lock:
            return self._drafts.get(author)

    def save_draft(self, author: str, draft: Draft) -> None:
        with self._lock:
            self._drafts[author] = draft

    def drop_draft(self, author: str) -> None:
        with self._lock:
            self._drafts.pop(author, None)


class UploadError(LeadthermError):
    """An uploaded file cannot be used; the message names the file and row."""


def _saved(data: bytes, filename: str, folder: str) -> Path:
    suffix = ".json" if filename.lower().endswith(".json") else ".csv"
    path = Path(folder) / f"upload{suffix}"
    path.write_bytes(data)
    return path


@contextmanager
def _uploaded(data: bytes, filename: str) -> Iterator[Path]:
    """The upload in a temporary file; its errors name the upload, never the server's temporary path."""
    with tempfile.TemporaryDirectory(prefix="leadtherm-upload-") as folder:
        path = _saved(data, filename, folder)
        try:
            yield path
        except LeadthermError as exc:
            raise UploadError(str(exc).replace(str(path), filename.rsplit("/", 1)[-1])) from None


def _sample(lead: Any, flat: Mapping[str, Any]) -> Sample:
    company = next((str(flat[f]) for f in COMPANY_FIELDS if flat.get(f)), None)
    return Sample(lead, company)


def records_as_samples(
    records: Sequence[tuple[RecordRef, RawRecord]], mapping: CrmMapping, flatten: Flatten
) -> tuple[list[Sample], list[str]]:
    """Records read through the CRM adapter as preview samples, and one message per record skipped."""
    normalizer = Normalizer(mapping)
    samples: list[Sample] = []
    skipped: list[str] = []
    for ref, record in records:
        _, flat = flatten(record)
        try:
            samples.append(_sample(normalizer.lead(flat, ref.object_type), flat))
        except MappingError as exc:
            skipped.append(f"record {ref.record_id}, field {exc.field}: {exc.reason}")
    return samples, skipped


@dataclass(frozen=True)
class ReadSamples:
    """An upload's preview samples, one message per skipped row, and how many rows the file holds."""

    samples: list[Sample]
    skipped: list[str]
    rows: int


def read_samples(
    data: bytes, filename: str, mapping: CrmMapping, flatten: Flatten, limit: int = MAX_SAMPLES
) -> ReadSamples:
    """Records of an uploaded export as preview samples; the rows past `limit` are counted, not read."""
    normalizer = Normalizer(mapping)
    samples: list[Sample] = []
    skipped: list[str] = []
    rows = 0
    with _uploaded(data, filename) as path:
        for row in read_export(path):
            rows += 1
            if len(samples) >= limit:
                continue  # counted, so the page can say the preview holds the first `limit` of them
            object_type, flat = flatten(row.record)
            try:
                lead = normalizer.lead(flat, object_type)
            except MappingError as exc:
                skipped.append(f"{row.position}, column {exc.field}: {exc.reason}")
                continue
            samples.append(_sample(lead, flat))
    return ReadSamples(samples, skipped, rows)


def header_fields(data: bytes, filename: str, flatten: Flatten) -> set[str] | None:
    """The field names of an upload's first record as a CRM's adapter reads them (None: no rows)."""
    with _uploaded(data, filename) as path:
        for row in read_export(path):
            return set(flatten(row.record)[1])
    return None


def read_uploaded_history(
    data: bytes,
    filename: str,
    mapping: CrmMapping,
    outcome: str,
    outcome_date: str | None,
    date_column: str | None = None,
) -> History:
    """An uploaded outcome history, read exactly as `leadtherm calibrate FILE --mapping M --outcome COL` reads it."""
    with _uploaded(data, filename) as path:
        history = read_history(path, mapping, outcome, outcome_date or None, date_column=date_column or None)
    return replace(history, source=filename)  # the mapping, dates and attributes travel with it


def samples_as_of(samples: list[Sample]) -> Any:
    """The moment to preview at: the samples' latest engagement, so a preview never drifts with the clock."""
    return default_as_of([s.lead for s in samples])
