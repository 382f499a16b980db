"""The DynamoDB DraftStore on the state store's table, against moto's server."""

from __future__ import annotations

import pytest

from adapters.aws.dynamodb_state import DynamoStateStore
from integration.ports import DraftStore
from tests.adapters.aws.conftest import Aws
from tests.contracts.draft_store_contract import DraftStoreContract


class TestDynamoDrafts(DraftStoreContract):
    @pytest.fixture
    def drafts(self, aws: Aws) -> DraftStore:
        return DynamoStateStore(aws.dynamodb, aws.table).drafts()
