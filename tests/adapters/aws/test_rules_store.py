"""The DynamoDB rules store passes the same contract as the folder, against moto's server."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.aws.rules_store import DynamoRulesStore
from integration.rules_store import RulesStoreError
from tests.adapters.aws.conftest import Aws
from tests.contracts.rules_store_contract import RulesStoreContract, warmer
from tests.packaged_copy import copy_packaged


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_packaged(tmp_path / "mappings")


@pytest.fixture
def store(aws: Aws, folder: Path) -> DynamoRulesStore:
    return DynamoRulesStore(aws.dynamodb, aws.table, folder)


class TestDynamoRulesStore(RulesStoreContract):
    pass


def test_two_consoles_applying_from_the_same_head_cannot_both_win(aws: Aws, folder: Path) -> None:
    first, second = DynamoRulesStore(aws.dynamodb, aws.table, folder), DynamoRulesStore(aws.dynamodb, aws.table, folder)
    text = warmer(first.current()["scoring.yaml"])
    first.apply({"scoring.yaml": text}, "ada")
    stale_head = 0

    class Stale(DynamoRulesStore):
        def head(self) -> int:
            return stale_head  # read before the first console applied

    with pytest.raises(RulesStoreError, match="another version was applied"):
        Stale(aws.dynamodb, aws.table, folder).apply({"scoring.yaml": text.replace("  hot: 75", "  hot: 80")}, "bo")
    assert second.head() == 1 and second.current()["scoring.yaml"] == text
