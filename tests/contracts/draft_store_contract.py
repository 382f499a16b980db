"""What every DraftStore does: one draft per author, kept whole until replaced or dropped."""

from __future__ import annotations

import pytest

from integration.ports import Draft, DraftStore

BASE = {"scoring.yaml": "fit: []\n", "hubspot.yaml": "crm: hubspot\n"}


class DraftStoreContract:
    @pytest.fixture
    def drafts(self) -> DraftStore:
        raise NotImplementedError

    def test_a_saved_draft_is_read_back_whole(self, drafts: DraftStore) -> None:
        draft = Draft(3, BASE, {**BASE, "scoring.yaml": "fit: [ü]\n"}, {'["scoring.yaml", "file"]': "yours"}, 4)
        drafts.save_draft("Ada", draft)
        assert drafts.load_draft("Ada") == draft

    def test_drafts_are_per_author_and_replaced_by_the_next_save(self, drafts: DraftStore) -> None:
        drafts.save_draft("Ada", Draft(1, BASE, BASE))
        drafts.save_draft("Grace", Draft(2, BASE, BASE))
        drafts.save_draft("Ada", Draft(5, BASE, BASE))
        assert drafts.load_draft("Ada") == Draft(5, BASE, BASE)
        assert drafts.load_draft("Grace") == Draft(2, BASE, BASE)
        assert drafts.load_draft("Linus") is None

    def test_a_dropped_draft_is_gone(self, drafts: DraftStore) -> None:
        drafts.save_draft("Ada", Draft(1, BASE, BASE))
        drafts.drop_draft("Ada")
        drafts.drop_draft("nobody")  # nothing to drop is fine
        assert drafts.load_draft("Ada") is None
