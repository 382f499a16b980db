"""A history as the console keeps it between what-ifs: the leads' values only, packed.

A Lead read through a mapping holds a dict of every catalogue attribute (about 1.3 KiB for 34
mostly empty entries) and its own copy of every text and date. Kept per admin, for up to 64
admins, that is most of the console's memory. Packed, each lead is one tuple over a key order
shared by the whole history, and equal values (the same industry, the same date) are one object.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from integration.calibration.history import History
from integration.domain.model import Lead


class PackedValues(Mapping[str, Any]):
    """A lead's values as a tuple over a shared key index; reads like the dict it replaces."""

    __slots__ = ("_index", "_row")

    def __init__(self, index: Mapping[str, int], row: tuple[Any, ...]) -> None:
        self._index = index
        self._row = row

    def __getitem__(self, key: str) -> Any:
        return self._row[self._index[key]]

    def get(self, key: str, default: Any = None) -> Any:
        i = self._index.get(key)
        return default if i is None else self._row[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


class _Pool:
    """One object per distinct value: ten thousand leads in one industry share one string."""

    def __init__(self) -> None:
        self._seen: dict[tuple[type, Hashable], Any] = {}

    def __call__(self, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        try:
            return self._seen.setdefault((type(value), value), value)
        except TypeError:  # unhashable (a list an admin's attribute holds): kept as it is
            return value


class Packer:
    """Packs leads as they arrive (a pull's pages, a child's pieces) into one shared key index and pool."""

    def __init__(self) -> None:
        self.pool = _Pool()
        self._index: dict[str, int] = {}
        self.leads: list[Lead] = []

    def add(self, leads: Iterable[Lead]) -> None:
        for lead in leads:
            values = lead.values
            if not self._index:
                for key in values:
                    self._index.setdefault(key, len(self._index))
            # Every lead of a history has the same keys (the catalogue's and the mapping's own);
            # one that differs is kept as it came rather than given keys it did not have.
            packed: Mapping[str, Any] = values
            if len(values) == len(self._index) and all(k in self._index for k in values):
                packed = PackedValues(self._index, tuple(self.pool(values[k]) for k in self._index))
            self.leads.append(Lead(self.pool(lead.crm), lead.record_id, self.pool(lead.object_type), packed))

    def add_rows(self, index: list[str], rows: Iterable[Row]) -> None:
        """Rows made by `rows` (over the key order `index`), back into leads of this packer."""
        if not self._index:
            self._index.update((k, i) for i, k in enumerate(index))
        same = list(self._index) == index
        for crm, record_id, object_type, row in rows:
            values: Mapping[str, Any] = row if isinstance(row, dict) else dict(zip(index, row, strict=True))
            if same and isinstance(row, tuple):
                # The sender pooled the values already; within a piece they arrive shared, and
                # pooling them again would cost the receiving server's interpreter per value.
                values = PackedValues(self._index, row)
            self.leads.append(Lead(self.pool(crm), record_id, self.pool(object_type), values))


Row = tuple[str, str, str, Any]  # crm, record id, object type, values (a tuple over the index, or a dict)


def key_order(history: History) -> list[str]:
    """The key order of a packed history's rows (its first lead's)."""
    first = history.leads[0].values if history.leads else {}
    return list(first._index) if isinstance(first, PackedValues) else list(first)


def rows(history: History, index: list[str], start: int, stop: int) -> list[Row]:
    """Leads [start, stop) as plain rows over `index`: a packed lead is its tuple already, cheap to pickle."""
    result: list[Row] = []
    same: Mapping[str, int] | None = None  # the index object found to have this order, checked once
    for lead in history.leads[start:stop]:
        values = lead.values
        row: Any = dict(values)
        if isinstance(values, PackedValues):
            if same is None and list(values._index) == index:
                same = values._index
            if values._index is same:
                row = values._row
        result.append((lead.crm, lead.record_id, lead.object_type, row))
    return result


def pack(history: History) -> History:
    """The same history with its leads packed; what-if and calibration read it unchanged."""
    packer = Packer()
    packer.add(history.leads)
    as_of = [packer.pool(moment) for moment in history.as_of]
    return replace(history, leads=packer.leads, outcomes=list(history.outcomes), as_of=as_of)


__all__ = ["PackedValues", "Packer", "Row", "key_order", "pack", "rows"]
