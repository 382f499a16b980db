"""The SQLite DraftStore: the contract, and drafts kept in the file across openings of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sqlite import SqliteStateStore
from integration.ports import Draft, DraftStore
from tests.contracts.draft_store_contract import BASE, DraftStoreContract


class TestSqliteDrafts(DraftStoreContract):
    @pytest.fixture
    def drafts(self, tmp_path: Path) -> DraftStore:
        return SqliteStateStore(tmp_path / "db.sqlite").drafts()


def test_a_draft_is_in_the_file_for_the_next_process_that_opens_it(tmp_path: Path) -> None:
    SqliteStateStore(tmp_path / "db.sqlite").drafts().save_draft("Ada", Draft(2, BASE, BASE))
    assert SqliteStateStore(tmp_path / "db.sqlite").drafts().load_draft("Ada") == Draft(2, BASE, BASE)
