"""HubSpot's CrmClient: every call through hubspot-api-client, in batches of at most 100."""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set
from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from urllib3.util.retry import Retry

from adapters.hubspot.endpoints import DEFAULT_API_BASE
from adapters.hubspot.errors import call, describe, missing_properties
from integration.errors import OutputFieldsMissing, PermanentCrmError, UnexpectedAnswer
from integration.ports import ChangeEvent, FetchResult, FieldWrite, Page, RecordRef, WriteResult, WriteStatus
from integration.service.retry import POLICY
from mappings.schema import CrmMapping

CRM = "hubspot"
BATCH_LIMIT = 100
_NOT_FOUND = "OBJECT_NOT_FOUND"


def _wire(value: Any) -> str:
    """HubSpot property values travel as strings."""
    return "true" if value is True else "false" if value is False else str(value)


def _error_ids(errors: Sequence[Any] | None, category: str) -> set[str]:
    ids: set[str] = set()
    for error in errors or []:
        if getattr(error, "category", None) == category:
            context = getattr(error, "context", None) or {}
            ids.update(str(i) for i in context.get("ids", []))
    return ids


def _unexpected(errors: Sequence[Any] | None, *expected: str) -> str | None:
    for error in errors or []:
        if getattr(error, "category", None) not in expected:
            return describe({"category": error.category, "message": getattr(error, "message", "")}, 207)
    return None


def flat(obj: Any) -> dict[str, Any]:
    """A HubSpot object as the mapping reads it: its properties and its id."""
    return {**(obj.properties or {}), "hs_object_id": str(obj.id)}


def batch_read(refs: Sequence[RecordRef], read: Callable[[Sequence[RecordRef]], Any], object_type: str) -> FetchResult:
    """One batch read of `object_type` records (`read` makes the SDK call): those found, and those gone."""
    if len(refs) > BATCH_LIMIT:
        raise PermanentCrmError(f"HubSpot batch read takes at most {BATCH_LIMIT} ids, got {len(refs)}")
    answer = read(refs)
    errors = getattr(answer, "errors", None)
    problem = _unexpected(errors, _NOT_FOUND)
    if problem:
        raise UnexpectedAnswer(f"HubSpot {object_type} batch read failed: {problem}")
    records = {RecordRef(CRM, object_type, str(obj.id)): flat(obj) for obj in answer.results}
    # Only an explicit OBJECT_NOT_FOUND makes a record missing; an id absent for no stated reason is retried.
    gone = _error_ids(errors, _NOT_FOUND)
    unexplained = [r for r in refs if r not in records and r.record_id not in gone]
    if unexplained:
        left = len(unexplained)
        raise UnexpectedAnswer(f"HubSpot {object_type} batch read left {left} id(s) out without OBJECT_NOT_FOUND")
    return FetchResult(records, frozenset(r for r in refs if r not in records))


def wire(write: FieldWrite) -> dict[str, str]:
    """A write's values as HubSpot properties take them."""
    return {k: _wire(v) for k, v in write.values.items()}


def batch_write(
    writes: Sequence[FieldWrite], update: Callable[[Sequence[FieldWrite]], Any], own_fields: Set[str], noun: str
) -> list[WriteResult]:
    """One batch update (`update` makes the call for the object type) and what became of each write."""
    if len(writes) > BATCH_LIMIT:
        raise PermanentCrmError(f"HubSpot batch update takes at most {BATCH_LIMIT} inputs, got {len(writes)}")
    try:
        answer = update(writes)
    except PermanentCrmError as exc:
        absent = sorted(set(missing_properties(exc)) & own_fields)
        if absent:
            # Our own output properties do not exist: setup never ran; every write would fail alike.
            raise OutputFieldsMissing(CRM, absent) from exc
        # A 400 (unknown property, bad option) rejects the whole batch: every record carries it.
        return [WriteResult(w.ref, WriteStatus.FAILED, str(exc)) for w in writes]
    errors = getattr(answer, "errors", None)
    missing = _error_ids(errors, _NOT_FOUND)
    problem = _unexpected(errors, _NOT_FOUND)
    done = {str(obj.id) for obj in answer.results}
    results = []
    for w in writes:
        if w.ref.record_id in done:
            results.append(WriteResult(w.ref, WriteStatus.OK))
        elif w.ref.record_id in missing:
            results.append(WriteResult(w.ref, WriteStatus.MISSING, f"{noun} not found"))
        else:
            results.append(WriteResult(w.ref, WriteStatus.RETRY, problem or "HubSpot did not say what became of it"))
    return results


class HubSpotClient:
    """Contacts read and written in batches; deals only to find the contacts they concern."""

    crm = CRM
    read_batch_size = BATCH_LIMIT
    write_batch_size = BATCH_LIMIT

    def __init__(
        self,
        mapping: CrmMapping,
        access_token: str,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = POLICY.request_timeout,
    ):
        # Retries are leadtherm's (tenacity, honouring rate limits), not urllib3's.
        self.api = HubSpot(access_token=access_token, host=api_base.rstrip("/"), retry=Retry(total=0, redirect=0))
        self.properties = [f for f in mapping.read_fields if f != mapping.id_field]
        self.own_fields = mapping.own_fields
        self.timeout = timeout

    def _ref(self, record_id: str) -> RecordRef:
        return RecordRef(CRM, "contact", str(record_id))

    def fetch(self, refs: Sequence[RecordRef]) -> FetchResult:
        def read(batch: Sequence[RecordRef]) -> Any:
            body = BatchReadInputSimplePublicObjectId(
                properties=self.properties, inputs=[SimplePublicObjectId(id=r.record_id) for r in batch]
            )
            return call(
                lambda: self.api.crm.contacts.batch_api.read(body, _request_timeout=self.timeout), "status", "results"
            )

        return batch_read(refs, read, "contact")

    def write(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        def update(batch: Sequence[FieldWrite]) -> Any:
            body = BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id=w.ref.record_id, properties=wire(w)) for w in batch]
            )
            return call(
                lambda: self.api.crm.contacts.batch_api.update(body, _request_timeout=self.timeout), "status", "results"
            )

        return batch_write(writes, update, self.own_fields, "contact")

    def page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        answer = call(
            lambda: self.api.crm.contacts.basic_api.get_page(
                limit=min(limit, BATCH_LIMIT),
                after=cursor,
                properties=self.properties,
                _request_timeout=self.timeout,
            ),
            "results",
        )
        after = answer.paging.next.after if answer.paging and answer.paging.next else None
        return Page([(self._ref(obj.id), flat(obj)) for obj in answer.results], after)

    def count(self, object_type: str) -> int | None:
        search = PublicObjectSearchRequest(limit=1, properties=["hs_object_id"])
        answer = call(
            lambda: self.api.crm.contacts.search_api.do_search(search, _request_timeout=self.timeout), "total"
        )
        return int(answer.total)

    def related(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        deals = [r for r in refs if r.object_type == "deal"]
        if not deals:
            return {}
        body = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=r.record_id) for r in deals]
        )
        answer = call(
            lambda: self.api.crm.associations.v4.batch_api.get_page(
                "deals", "contacts", body, _request_timeout=self.timeout
            ),
            "status",
        )
        links: dict[RecordRef, list[RecordRef]] = {r: [] for r in deals}
        for result in answer.results or []:
            deal = RecordRef(CRM, "deal", str(result._from.id))
            links.setdefault(deal, []).extend(self._ref(str(to.to_object_id)) for to in result.to or [])
        return links

    def missing_outputs(self) -> list[str]:
        answer = call(
            lambda: self.api.crm.properties.core_api.get_all("contacts", _request_timeout=self.timeout), "results"
        )
        present = {str(p.name) for p in answer.results}
        return sorted(self.own_fields - present)

    def is_own_write(self, event: ChangeEvent) -> bool:
        """HubSpot names the one property a propertyChange touched: ours means our echo."""
        return bool(event.changed_fields) and set(event.changed_fields) <= self.own_fields
