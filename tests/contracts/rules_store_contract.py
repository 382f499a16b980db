"""What every rules store must do, whatever holds the versions (the folder, DynamoDB)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integration.errors import ConfigError
from integration.ports.rules_store import Files, RulesStore, StaleDraft, UnknownVersion, Version, fresh_readers


def noted(text: str, note: str) -> str:
    """A file with one more comment line: a valid edit that can be told apart from any other."""
    return f"{text.rstrip()}\n# {note}\n"


def race(store: RulesStore, base: int, edits: dict[str, Files]) -> list[Version | StaleDraft]:
    """Each author applies its edit based on `base`, all at the same instant (threads released together)."""
    start = threading.Barrier(len(edits))
    outcomes: list[Version | StaleDraft] = []

    def run(author: str, files: Files) -> None:
        start.wait()
        try:
            outcomes.append(store.apply(files, author, base=base))
        except StaleDraft as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=edit) for edit in edits.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def warmer(text: str) -> str:
    """scoring.yaml with the warm band raised from 40 to 45."""
    assert "  warm: 40 " in text
    return text.replace("  warm: 40 ", "  warm: 45 ", 1)


class RulesStoreContract:
    """Subclass with fixtures over a folder holding copies of the packaged files (`folder`): `store`,
    and `racing_store` built with `check=unchecked` (the races need not wait for `check`'s loader)."""

    def test_before_any_apply_the_files_in_force_are_the_folders_and_head_is_0(
        self, store: RulesStore, folder: Path
    ) -> None:
        assert store.head() == 0
        assert store.current()["scoring.yaml"] == (folder / "scoring.yaml").read_text()
        assert set(store.current()) == {"scoring.yaml", "hubspot.yaml", "salesforce.yaml", "scoring.company.yaml"}

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

    def test_an_apply_based_on_a_version_that_is_no_longer_the_head_is_refused_and_says_by_whom(
        self, store: RulesStore
    ) -> None:
        base = store.head()
        text = store.current()["scoring.yaml"]
        won = store.apply({"scoring.yaml": noted(text, "ada's edit")}, "ada", base=base)
        with pytest.raises(StaleDraft) as refused:
            store.apply({"scoring.yaml": noted(text, "bo's edit")}, "bo", base=base)
        assert f"the rules changed since you started (version {won.number} by ada)" in str(refused.value)
        assert store.head() == won.number and "ada's edit" in store.current()["scoring.yaml"]

    def test_of_two_admins_applying_at_once_from_one_head_exactly_one_wins_and_the_other_is_told(
        self, racing_store: RulesStore
    ) -> None:
        store = racing_store
        for trial in range(20):
            base, text = store.head(), store.current()["scoring.yaml"]
            edits = {who: {"scoring.yaml": noted(text, f"{who} {trial}")} for who in ("ada", "bo")}
            outcomes = race(store, base, edits)
            won = [o for o in outcomes if isinstance(o, Version)]
            told = [o for o in outcomes if isinstance(o, StaleDraft)]
            assert len(won) == 1 and len(told) == 1, outcomes
            assert store.head() == won[0].number
            assert f"(version {won[0].number} by {won[0].author})" in str(told[0])
            loser = "bo" if won[0].author == "ada" else "ada"
            in_force = store.current()["scoring.yaml"]
            assert f"# {won[0].author} {trial}" in in_force and f"# {loser} {trial}" not in in_force

    def test_a_service_that_marks_the_store_is_seen_as_reading_it_until_it_forgets(self, store: RulesStore) -> None:
        assert fresh_readers(store, datetime.now(UTC)) == []
        store.mark_reader("serve on test pid 1")
        (seen,) = fresh_readers(store, datetime.now(UTC))
        assert seen.name == "serve on test pid 1"
        assert fresh_readers(store, datetime.now(UTC) + timedelta(minutes=5)) == []  # marks go stale
        store.forget_reader("serve on test pid 1")
        assert store.readers() == []
