"""The DynamoDB rules store passes the same contract as the folder, against moto's server."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.aws.rules_store import DynamoRulesStore
from harness.packaged_copy import copy_packaged
from harness.rules_store_crash import unchecked
from integration.ports.rules_store import StaleDraft
from tests.adapters.aws.conftest import Aws
from tests.contracts.rules_store_contract import RulesStoreContract, warmer


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_packaged(tmp_path / "mappings")


@pytest.fixture
def store(aws: Aws, folder: Path) -> DynamoRulesStore:
    return DynamoRulesStore(aws.dynamodb, aws.table, folder)


@pytest.fixture
def racing_store(aws: Aws, folder: Path) -> DynamoRulesStore:
    return DynamoRulesStore(aws.dynamodb, aws.table, folder, check=unchecked)


class TestDynamoRulesStore(RulesStoreContract):
    pass


def test_an_apply_that_lost_the_race_after_reading_the_head_is_refused_by_the_conditional_write(
    aws: Aws, folder: Path
) -> None:
    first = DynamoRulesStore(aws.dynamodb, aws.table, folder)
    text = warmer(first.current()["scoring.yaml"])
    first.apply({"scoring.yaml": text}, "ada")
    stale_head = 0

    class ReadBeforeTheOtherApplied(DynamoRulesStore):
        def head(self) -> int:
            return stale_head  # read before the first console applied: only the condition can catch it

    with pytest.raises(StaleDraft, match=r"the rules changed since you started \(version 1 by ada\)"):
        ReadBeforeTheOtherApplied(aws.dynamodb, aws.table, folder).apply(
            {"scoring.yaml": text.replace("  hot: 75", "  hot: 80")}, "bo", base=0
        )
    second = DynamoRulesStore(aws.dynamodb, aws.table, folder)
    assert second.head() == 1 and second.current()["scoring.yaml"] == text
    assert [v.author for v in second.history()] == ["ada"]  # version 1's record was not overwritten


def test_the_store_names_its_table(aws: Aws, folder: Path) -> None:
    assert DynamoRulesStore(aws.dynamodb, aws.table, folder).location() == f"DynamoDB table {aws.table}"
