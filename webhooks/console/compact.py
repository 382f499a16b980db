"""A history as the console keeps it between what-ifs: the leads' values only, packed.

A Lead read through a mapping holds a dict of every catalogue attribute (about 1.3 KiB for 34
mostly empty entries) and its own copy of every text and date. Kept per admin, for up to 64
admins, that is most of the console's memory. Packed, each lead is one tuple over a key order
shared by the whole history, and equal values (the same industry, the same date) are one object.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any

from integration.calibration.history import History
from integration.model import Lead


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


def pack(history: History) -> History:
    """The same history with its leads packed; what-if and calibration read it unchanged."""
    pool = _Pool()
    index: dict[str, int] = {}
    for lead in history.leads:
        for key in lead.values:
            index.setdefault(key, len(index))
    leads: list[Lead] = []
    for lead in history.leads:
        values = lead.values
        # Every lead of a history has the same keys (the catalogue's and the mapping's own);
        # one that differs is kept as it came rather than given keys it did not have.
        packed: Mapping[str, Any] = values
        if len(values) == len(index):
            packed = PackedValues(index, tuple(pool(values[k]) for k in index))
        leads.append(Lead(pool(lead.crm), lead.record_id, pool(lead.object_type), packed))
    as_of = [pool(moment) for moment in history.as_of]
    return History(history.source, leads, list(history.outcomes), as_of, history.attributes)


__all__ = ["PackedValues", "pack"]
