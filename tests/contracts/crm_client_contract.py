"""The CrmClient contract, written once: every CRM adapter's test module subclasses it.

A subclass provides a `harness` fixture (see `CrmHarness`) for its CRM: the in-memory
fake here, the HubSpot and Salesforce sandboxes in their adapters' tests.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from integration.errors import RateLimited
from integration.ports import ChangeEvent, CrmClient, FieldWrite, RecordRef, WriteStatus
from integration.service.guard import GuardedClient
from integration.service.retry import retry_on_rate_limit


class CrmHarness(Protocol):
    client: CrmClient
    object_type: str
    writable_field: str  # an output field the client may write, holding a number

    def create(self, fields: dict[str, Any]) -> RecordRef: ...

    def delete(self, ref: RecordRef) -> None: ...

    def read(self, ref: RecordRef, field: str) -> Any: ...

    def inject_rate_limit(self, retry_after: float) -> None:
        """Make the CRM answer the next request with its rate-limit error."""
        ...

    def echo_of_own_write(self, ref: RecordRef) -> ChangeEvent:
        """The change event the CRM sends after the client wrote `writable_field` on `ref`."""
        ...

    def change_by_person(self, ref: RecordRef) -> ChangeEvent:
        """The change event the CRM sends after a person edited `ref`."""
        ...


class CrmClientContract:
    """What every CrmClient must do, whatever CRM is behind it."""

    def test_fetch_returns_found_records_and_names_the_missing(self, harness: CrmHarness) -> None:
        present = harness.create({})
        gone = harness.create({})
        harness.delete(gone)
        result = harness.client.fetch([present, gone])
        assert set(result.records) == {present}
        assert result.missing == frozenset({gone})

    def test_a_full_batch_is_fetched_in_one_call(self, harness: CrmHarness) -> None:
        size = min(harness.client.read_batch_size, 120)
        refs = [harness.create({}) for _ in range(size)]
        result = harness.client.fetch(refs)
        assert set(result.records) == set(refs)

    def test_write_gives_one_result_per_record_in_request_order(self, harness: CrmHarness) -> None:
        first, gone, last = harness.create({}), harness.create({}), harness.create({})
        harness.delete(gone)
        results = harness.client.write(
            [FieldWrite(r, {harness.writable_field: n}) for n, r in enumerate((first, gone, last), start=10)]
        )
        assert [r.ref for r in results] == [first, gone, last]
        assert [r.status for r in results] == [WriteStatus.OK, WriteStatus.MISSING, WriteStatus.OK]
        assert float(harness.read(first, harness.writable_field)) == 10
        assert float(harness.read(last, harness.writable_field)) == 12

    def test_an_unknown_field_fails_permanently_naming_the_field(self, harness: CrmHarness) -> None:
        ref = harness.create({})
        results = harness.client.write([FieldWrite(ref, {"no_such_field_xyz": "1"})])
        assert results[0].status is WriteStatus.FAILED
        assert "no_such_field_xyz" in results[0].reason

    def test_rate_limit_raises_rate_limited_with_the_wait(self, harness: CrmHarness) -> None:
        ref = harness.create({})
        harness.inject_rate_limit(retry_after=1.0)
        with pytest.raises(RateLimited) as caught:
            harness.client.fetch([ref])
        assert caught.value.retry_after is None or caught.value.retry_after > 0

    def test_guarded_client_waits_out_a_rate_limit_and_succeeds(self, harness: CrmHarness) -> None:
        ref = harness.create({})
        slept: list[float] = []
        guarded = GuardedClient(
            harness.client,
            retrying=lambda **kw: retry_on_rate_limit(sleep=slept.append, **kw),
        )
        harness.inject_rate_limit(retry_after=0.5)
        result = guarded.fetch([ref])
        assert ref in result.records
        assert guarded.stats.rate_limited == 1
        assert len(slept) == 1 and slept[0] > 0  # waited once (the CRM's Retry-After, or a backoff)

    def test_paging_visits_every_record_once_and_resumes_from_a_cursor(self, harness: CrmHarness) -> None:
        created = {harness.create({}) for _ in range(7)}
        seen: list[RecordRef] = []
        cursor: str | None = None
        cursors: list[str] = []
        while True:
            page = harness.client.page(harness.object_type, cursor, 3)
            seen.extend(ref for ref, _ in page.records)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
            cursors.append(cursor)
        assert created <= set(seen)
        assert len(seen) == len(set(seen))
        resumed = harness.client.page(harness.object_type, cursors[0], 3)
        assert [r for r, _ in resumed.records] == seen[3:6]

    def test_the_echo_of_its_own_write_is_recognised(self, harness: CrmHarness) -> None:
        ref = harness.create({})
        assert harness.client.is_own_write(harness.echo_of_own_write(ref))

    def test_a_change_by_a_person_is_not_its_own_write(self, harness: CrmHarness) -> None:
        ref = harness.create({})
        assert not harness.client.is_own_write(harness.change_by_person(ref))
