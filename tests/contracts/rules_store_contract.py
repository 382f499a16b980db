"""What every rules store must do, whatever holds the versions (the folder, DynamoDB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.errors import ConfigError
from integration.rules_store import RulesStore, UnknownVersion


def warmer(text: str) -> str:
    """scoring.yaml with the warm band raised from 40 to 45."""
    assert "  warm: 40 " in text
    return text.replace("  warm: 40 ", "  warm: 45 ", 1)


class RulesStoreContract:
    """Subclass with a `store` fixture over a folder holding copies of the packaged files (`folder`)."""

    def test_before_any_apply_the_files_in_force_are_the_folders_and_head_is_0(
        self, store: RulesStore, folder: Path
    ) -> None:
        assert store.head() == 0
        assert store.current()["scoring.yaml"] == (folder / "scoring.yaml").read_text()
        assert set(store.current()) == {"scoring.yaml", "hubspot.yaml", "salesforce.yaml"}

    def test_an_applied_version_is_in_force_with_author_time_note_and_diff(self, store: RulesStore) -> None:
        text = warmer(store.current()["scoring.yaml"])
        made = store.apply({"scoring.yaml": text}, "ada", "lower warm")
        assert store.head() == made.number
        assert store.current()["scoring.yaml"] == text
        assert "hubspot.yaml" in store.current()  # untouched files stay
        found = store.version(made.number)
        assert (found.author, found.note, found.changed) == ("ada", "lower warm", ["scoring.yaml"])
        assert "-  warm: 40 " in found.diff and "+  warm: 45 " in found.diff
        assert store.history()[0].number == made.number

    def test_an_invalid_version_is_refused_with_its_line_and_nothing_changes(self, store: RulesStore) -> None:
        before = store.current()
        with pytest.raises(ConfigError) as refused:
            store.apply({"scoring.yaml": before["scoring.yaml"].replace("  warm: 40 ", "  warm: 90 ", 1)}, "ada")
        problem = refused.value.problems[0]
        assert problem.file == "scoring.yaml" and problem.line is not None and "out of order" in problem.message
        assert store.head() == 0 and store.current() == before

    def test_rollback_applies_an_earlier_versions_files_as_a_new_version(self, store: RulesStore) -> None:
        original = store.current()["scoring.yaml"]
        first = store.apply({"scoring.yaml": warmer(original)}, "ada")
        store.apply({"scoring.yaml": warmer(original).replace("  hot: 75", "  hot: 80", 1)}, "ada")
        earliest = min(v.number for v in store.history())
        back = store.rollback(earliest, "grace")
        assert back.number > first.number and back.author == "grace"
        assert store.current()["scoring.yaml"] == store.version(earliest).files["scoring.yaml"]
        assert [v.number for v in store.history()] == sorted((v.number for v in store.history()), reverse=True)

    def test_an_unknown_version_is_a_typed_error(self, store: RulesStore) -> None:
        with pytest.raises(UnknownVersion):
            store.version(99)
