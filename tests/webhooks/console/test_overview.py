"""The overview counts every stored record while holding one page of them at a time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from adapters.sqlite import SqliteStateStore
from integration.ports import RecordQuery, StoredPage
from mappings.schema import GridCuts
from tests.contracts.backend_contract import ref, stored
from webhooks.console import overview


class Spy:
    """A store that records the size of each page asked for and handed back."""

    def __init__(self, inner: SqliteStateStore) -> None:
        self.inner = inner
        self.pages: list[int] = []

    def search(self, query: RecordQuery, cursor: str | None, limit: int) -> StoredPage:
        page = self.inner.search(query, cursor, limit)
        self.pages.append(len(page.records))
        return page


def test_the_overview_reads_the_store_a_page_at_a_time_and_counts_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = SqliteStateStore(tmp_path / "db.sqlite")
    scores = [3, 18, 55, 61, 77, 100, 42, 9, 90, 25, 50]
    state.save_many(
        {ref(n): replace(stored("warm" if s >= 50 else "cold"), score=s, fit=s, engagement=100 - s) for n, s in
         enumerate(scores)}
    )  # fmt: skip
    monkeypatch.setattr(overview, "PAGE", 4)
    spy = Spy(state)
    seen = overview.overview_of(spy, GridCuts())
    assert max(spy.pages) <= 4 and sum(spy.pages) == len(scores)
    assert seen.records == len(scores)
    assert seen.bands == [sum(1 for s in scores if min(s // 10, 9) == b) for b in range(10)]
    assert seen.temperatures == {"warm": sum(s >= 50 for s in scores), "cold": sum(s < 50 for s in scores)}
    assert seen.cells["A4"] == sum(1 for s in scores if s >= 75 and 100 - s < 25)
    assert sum(seen.cells.values()) == len(scores)
