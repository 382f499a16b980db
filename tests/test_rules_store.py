"""The folder rules store passes the contract; hand edits are kept as versions; hot reload follows the head."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.rules_folder import OUTSIDE, FolderRulesStore
from integration.rules_provider import StoreRulesProvider, parse_rules
from mappings.loader import PACKAGED, load_rules
from tests.contracts.rules_store_contract import RulesStoreContract, warmer
from tests.packaged_copy import copy_packaged


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_packaged(tmp_path / "mappings")


@pytest.fixture
def store(folder: Path) -> FolderRulesStore:
    return FolderRulesStore(folder)


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
        "hubspot.yaml", "salesforce.yaml", "scoring.yaml"
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
