"""The in-memory fake CRM passes the same CrmClient contract as the real adapters."""

from __future__ import annotations

from typing import Any

import pytest

from integration.ports import ChangeEvent, FieldWrite, RecordRef
from tests.contracts.crm_client_contract import CrmClientContract
from tests.fakes import FakeCrm


class FakeHarness:
    object_type = "contact"
    writable_field = "leadtherm_score"

    def __init__(self) -> None:
        self.client = FakeCrm(known_fields={"email", "leadtherm_score"}, own_fields=frozenset({"leadtherm_score"}))

    def create(self, fields: dict[str, Any]) -> RecordRef:
        return self.client.add(fields)

    def delete(self, ref: RecordRef) -> None:
        del self.client.records[ref]

    def read(self, ref: RecordRef, field: str) -> Any:
        return self.client.records[ref].get(field)

    def inject_rate_limit(self, retry_after: float) -> None:
        self.client.rate_limit_next(retry_after)

    def echo_of_own_write(self, ref: RecordRef) -> ChangeEvent:
        self.client.write([FieldWrite(ref, {"leadtherm_score": 50})])
        return self.client.outbox[-1]

    def change_by_person(self, ref: RecordRef) -> ChangeEvent:
        return self.client.change(ref, {"email": "person@example.com"})


class TestFakeCrm(CrmClientContract):
    @pytest.fixture
    def harness(self) -> FakeHarness:
        return FakeHarness()
