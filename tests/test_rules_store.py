"""The folder rules store passes the contract; hand edits are kept as versions; hot reload follows the head."""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.packaged_copy import copy_packaged
from harness.rules_store_crash import kill_during_applies, unchecked
from integration.files.rules_folder import HISTORY, OUTSIDE, FolderRulesStore, open_folder_store
from integration.ports.rules_store import StaleDraft
from integration.service.rules_provider import StoreRulesProvider, parse_rules
from mappings.company import COMPANY_RULES_FILE, load_company_rules
from mappings.loader import PACKAGED, load_rules
from tests.contracts.rules_store_contract import RulesStoreContract, noted, warmer


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_packaged(tmp_path / "mappings")


@pytest.fixture
def store(folder: Path) -> FolderRulesStore:
    return FolderRulesStore(folder)


@pytest.fixture
def racing_store(folder: Path) -> FolderRulesStore:
    return FolderRulesStore(folder, check=unchecked)


class TestFolderRulesStore(RulesStoreContract):
    pass


def test_the_files_before_the_first_apply_and_hand_edits_become_versions_of_their_own(
    store: FolderRulesStore, folder: Path
) -> None:
    original = (folder / "scoring.yaml").read_text()
    store.apply({"scoring.yaml": warmer(original)}, "ada")
    assert [(v.number, v.author) for v in store.history()] == [(2, "ada"), (1, OUTSIDE)]
    assert store.version(1).files["scoring.yaml"] == original
    (folder / "hubspot.yaml").write_text((folder / "hubspot.yaml").read_text() + "\n# a note by hand\n")
    store.apply({"scoring.yaml": original}, "ada")
    assert [(v.number, v.author) for v in store.history()][:2] == [(4, "ada"), (3, OUTSIDE)]
    assert store.version(3).changed == ["hubspot.yaml"]


def test_applied_files_are_written_whole_with_no_temporary_file_left(store: FolderRulesStore, folder: Path) -> None:
    store.apply({"scoring.yaml": warmer((folder / "scoring.yaml").read_text())}, "ada")
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".history")) == [
        "hubspot.yaml", "salesforce.yaml", "scoring.company.yaml", "scoring.yaml"
    ]  # fmt: skip
    assert parse_rules((folder / "scoring.yaml").read_text()).temperature.warm == 45


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_provider_serves_a_new_version_once_its_check_interval_has_passed(
    store: FolderRulesStore, folder: Path
) -> None:
    clock = Clock()
    provider = StoreRulesProvider(store, load_rules(folder), check_every=1.0, monotonic=clock)
    assert provider.current().temperature.warm == 40
    store.apply({"scoring.yaml": warmer((folder / "scoring.yaml").read_text())}, "ada")
    clock.now = 0.5
    assert provider.current().temperature.warm == 40  # not checked yet: no store read per batch
    clock.now = 1.5
    assert provider.current().temperature.warm == 45 and provider.head == 2


def test_by_default_the_batch_right_after_an_apply_scores_with_the_applied_version(
    store: FolderRulesStore, folder: Path
) -> None:
    clock = Clock()  # no time passes: the apply lands between two batches of a busy worker
    provider = StoreRulesProvider(store, load_rules(folder), monotonic=clock)
    assert provider.current().temperature.warm == 40
    store.apply({"scoring.yaml": warmer((folder / "scoring.yaml").read_text())}, "ada")
    assert provider.current().temperature.warm == 45 and provider.head == 2  # "from its next batch"


def test_a_provider_started_after_an_apply_serves_the_applied_version(store: FolderRulesStore, folder: Path) -> None:
    store.apply({"scoring.yaml": warmer((folder / "scoring.yaml").read_text())}, "ada")
    provider = StoreRulesProvider(store, load_rules(PACKAGED))
    assert provider.current().temperature.warm == 45


def test_a_head_whose_files_do_not_load_leaves_the_rules_in_force(store: FolderRulesStore, folder: Path) -> None:
    clock = Clock()
    provider = StoreRulesProvider(store, load_rules(folder), check_every=1.0, monotonic=clock)
    store.apply({"scoring.yaml": warmer((folder / "scoring.yaml").read_text())}, "ada")
    (folder / "scoring.yaml").write_text("weights: [broken\n")  # edited by hand after the apply
    clock.now = 2.0
    assert provider.current().temperature.warm == 40


def test_applied_company_rules_are_in_force_from_the_next_batch_without_a_restart(
    store: FolderRulesStore, folder: Path
) -> None:
    initial = load_company_rules(folder)
    provider = StoreRulesProvider(store, load_rules(folder))
    assert provider.company_rules(initial) == initial
    text = (folder / COMPANY_RULES_FILE).read_text(encoding="utf-8")
    store.apply({COMPANY_RULES_FILE: text.replace("hot: 80", "hot: 85")}, "ada")
    provider.snapshot()  # the next batch starts
    assert provider.company_rules(initial).thresholds.hot == 85 and initial.thresholds.hot == 80


# ---------------------------------------------------------------------- atomic, serialised, crash-safe


def _apply_in_child(folder: Path, base: int, author: str, start: Any, answers: Any) -> None:
    """In a child process: wait for the other child, apply one edit based on `base`, report the outcome."""
    store = FolderRulesStore(folder, check=unchecked)
    text = store.version(base).files["scoring.yaml"] if base else store.current()["scoring.yaml"]
    start.wait()
    try:
        made = store.apply({"scoring.yaml": noted(text, author)}, author, base=base)
        answers.put((author, "applied", made.number))
    except StaleDraft as exc:
        answers.put((author, "stale", str(exc)))


def test_of_two_processes_applying_at_once_from_one_head_exactly_one_wins_and_the_other_is_told(
    racing_store: FolderRulesStore, folder: Path
) -> None:
    store = racing_store
    processes = multiprocessing.get_context("fork")
    store.apply({"scoring.yaml": noted(store.current()["scoring.yaml"], "start")}, "setup")
    for trial in range(20):
        base, start, answers = store.head(), processes.Barrier(2), processes.Queue()
        children = [
            processes.Process(target=_apply_in_child, args=(folder, base, f"{who}-{trial}", start, answers))
            for who in ("ada", "bo")
        ]
        for child in children:
            child.start()
        outcomes = sorted(answers.get(timeout=60) for _ in children)
        for child in children:
            child.join(timeout=30)
        applied = [o for o in outcomes if o[1] == "applied"]
        stale = [o for o in outcomes if o[1] == "stale"]
        assert len(applied) == 1 and len(stale) == 1, outcomes
        winner, _, number = applied[0]
        assert f"the rules changed since you started (version {number} by {winner})" in str(stale[0][2])
        assert store.head() == number and f"# {winner}" in (folder / "scoring.yaml").read_text()
        assert f"# {stale[0][0]}" not in (folder / "scoring.yaml").read_text()


def test_a_kill_9_at_any_instant_of_an_apply_leaves_the_old_or_the_new_version_whole(folder: Path) -> None:
    """The short run (30 instants); `python -m bench rules_store_crash` runs hundreds."""
    chance = random.Random(19)
    for trial in range(30):
        # An apply takes about 30 ms here: the kills fall before, inside and between applies.
        seen = kill_during_applies(folder, trial, chance.uniform(0.0, 0.12), check=trial % 10 == 9)
        assert not seen.mixed and seen.matches_record, seen  # one version's files, as a service would load them
        assert seen.valid in (True, None), seen  # `check`'s loader, every tenth time (it takes a second)
        assert seen.left_after_start == [] and seen.same_after_start, seen  # the next start cleans up
    assert FolderRulesStore(folder).head() > 10  # the kills fell inside applies, not only before the first one
    done = subprocess.run(
        [str(Path(sys.executable).with_name("leadtherm")), "check", "--mappings", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_folder_versioned_before_the_pointer_is_read_as_it_is_and_moved_to_it_at_the_first_apply(
    folder: Path,
) -> None:
    original = (folder / "scoring.yaml").read_text()
    files = {p.name: p.read_text() for p in folder.glob("*.yaml")}
    history = folder / HISTORY
    history.mkdir()
    record = {"number": 1, "at": "2026-01-01T00:00:00+00:00", "author": "ada", "note": "", "files": files, "diff": ""}
    (history / "000001.json").write_text(json.dumps(record))
    (history / "HEAD").write_text("1\n")
    # An apply of the earlier layout, killed between its files: its record and a temporary file stayed.
    (history / "000002.json").write_text(json.dumps({**record, "number": 2, "author": "interrupted"}))
    (folder / ".scoring.yaml.4242.tmp").write_text("weights: [half")

    store = open_folder_store({}, folder)
    assert store.head() == 1 and store.current() == files
    assert not (folder / ".scoring.yaml.4242.tmp").exists()
    made = store.apply({"scoring.yaml": warmer(original)}, "bo")
    assert made.number == 2 and [v.author for v in store.history()] == ["bo", "ada"]
    assert all((folder / name).is_symlink() for name in files) and not (history / "HEAD").exists()
    assert load_rules(folder).temperature.warm == 45
    back = store.rollback(1, "grace")
    assert back.number == 3 and store.version(2).author == "bo"  # the rollback made a new record
    assert load_rules(folder).temperature.warm == 40


def test_a_file_replaced_by_hand_is_kept_as_a_version_and_linked_again(store: FolderRulesStore, folder: Path) -> None:
    original = (folder / "scoring.yaml").read_text()
    store.apply({"scoring.yaml": warmer(original)}, "ada")
    edited = folder / "hubspot.yaml"
    replacement = noted(edited.read_text(), "by hand")
    edited.unlink()
    edited.write_text(replacement)  # as an editor saving a new file over the link would
    assert store.current()["hubspot.yaml"] == replacement
    made = store.apply({"scoring.yaml": original}, "ada")
    assert store.version(made.number - 1).author == OUTSIDE
    assert edited.is_symlink() and edited.read_text() == replacement
    assert store.version(made.number).files["hubspot.yaml"] == replacement


def test_a_service_on_the_packaged_folder_writes_nothing_into_the_installed_package() -> None:
    store = open_folder_store({}, PACKAGED)
    store.mark_reader("serve on test pid 1")
    assert not (PACKAGED / HISTORY).exists() and store.readers() == []
