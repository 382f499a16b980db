"""Salesforce's CrmClient: SOQL reads and sObject Collections writes through simple-salesforce."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import Operation

from adapters.salesforce.errors import RETRIABLE_CODES, call
from adapters.salesforce.flatten import dotted
from adapters.salesforce.related import CONVERSION, RELATED_OBJECTS
from integration.errors import OutputFieldsMissing, PermanentCrmError, UnexpectedAnswer
from integration.ports import (
    ChangeEvent,
    FetchResult,
    FieldWrite,
    Page,
    RawRecord,
    RecordRef,
    WriteResult,
    WriteStatus,
)
from integration.service.retry import POLICY
from mappings.schema import CrmMapping

CRM = "salesforce"
COLLECTION_LIMIT = 200  # sObject Collections
BULK_THRESHOLD = 10_000  # above this many records, a backfill reads and writes through Bulk API 2.0
BULK_PAGE = 10_000
READ_CHUNK = 200  # ids per SOQL IN (...): ~4 KB, far under the 16,384-byte URI limit
_GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})
_CONVERTED = "CANNOT_UPDATE_CONVERTED_LEAD"
# Conversion is followed whatever the mapping reads (see fetch); the Contact is read in the Lead's query.
_FOLLOW = ("IsConverted", "ConvertedContactId", "CreatedDate")  # CreatedDate: calibrate measures forward in time
_CONTACT = "ConvertedContact"


def soql_literal(value: str) -> str:
    """A quoted SOQL string literal (ids are alphanumeric, but never trust a value)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceClient:
    """Leads and Contacts; a converted Lead is followed to its Contact, which keeps the conversion.

    A Contact made by converting a Lead carries that Lead's conversion fields (`IsConverted` and
    the `ConvertedOpportunity.*` fields the mapping reads), however it is reached: through the
    Lead (whose query selects the Contact's fields too) or by its own id or page (one Lead query
    per 200 Contacts finds the Leads converted into them).

    A full listing of more than `bulk_threshold` records (a backfill) switches to Bulk API 2.0:
    pages come from a query job, and writes of more than 200 records go through an ingest job.
    """

    crm = CRM
    read_batch_size = READ_CHUNK

    def __init__(
        self,
        mapping: CrmMapping,
        sf: Salesforce,
        timeout: float = POLICY.request_timeout,
        bulk_threshold: int = BULK_THRESHOLD,
        bulk_poll: float = 1.0,
        bulk_page: int = BULK_PAGE,
    ) -> None:
        self.sf = sf
        self.mapping = mapping
        self.timeout = timeout
        self.bulk_threshold = bulk_threshold
        self.bulk_poll = bulk_poll
        self.bulk_page = bulk_page
        self._bulk = False
        self._fields: dict[str, list[str]] = {}
        self._described: dict[str, dict[str, dict[str, Any]]] = {}
        self._user_id: str | None = None

    def session(self) -> Salesforce:
        """The REST session, for the CDC listener to share."""
        return self.sf

    def use_session(self, sf: Salesforce) -> None:
        """A renewed session (the CDC listener logged in again): REST calls use it from now on."""
        self.sf = sf

    @property
    def write_batch_size(self) -> int:
        return self.bulk_page if self._bulk else COLLECTION_LIMIT

    def _describe(self, object_type: str) -> dict[str, dict[str, Any]]:
        if object_type not in self._described:
            described = call(lambda: getattr(self.sf, object_type).describe())
            self._described[object_type] = {f["name"]: f for f in described["fields"]}
        return self._described[object_type]

    def _has(self, object_type: str, name: str) -> bool:
        """A field of the object, or a parent's through relationships (`ConvertedOpportunity.IsWon`, `Account.Name`).

        A relationship the object lacks (Account on a Lead) makes the field absent there: it reads as empty.
        """
        described = self._describe(object_type)
        relationship, dot, parent_field = name.partition(".")
        if not dot:
            return name in described
        reference = next((f for f in described.values() if f.get("relationshipName") == relationship), None)
        parents = (reference or {}).get("referenceTo") or []
        return len(parents) == 1 and self._has(str(parents[0]), parent_field)

    def fields(self, object_type: str) -> list[str]:
        """The mapped fields this object really has (describe, once): IsConverted is Lead-only."""
        if object_type not in self._fields:
            wanted = [*self.mapping.read_fields, *_FOLLOW]
            self._fields[object_type] = [f for f in dict.fromkeys(wanted) if self._has(object_type, f)]
        return self._fields[object_type]

    def _conversion_fields(self) -> list[str]:
        """What a Contact inherits from the Lead converted into it: the Lead's conversion fields."""
        return [f for f in self.fields("Lead") if f == "IsConverted" or f.startswith(CONVERSION)]

    def _select(self, object_type: str) -> str:
        names = ["Id", *self.fields(object_type)]
        if object_type == "Lead" and self._has("Lead", f"{_CONTACT}.Id"):
            # The Contact a Lead became comes in the same query, so following it costs no request; its
            # Account's fields too (`ConvertedContact.Account.Industry`), but not the conversion's, which the Lead has.
            own = [f for f in self.fields("Contact") if not f.startswith(CONVERSION)]
            names += [f"{_CONTACT}.{f}" for f in ["Id", *own]]
        return ", ".join(dict.fromkeys(names))

    def _query(self, soql: str) -> list[dict[str, Any]]:
        answer = call(lambda: self.sf.query_all(soql, timeout=self.timeout))
        records = answer.get("records") if isinstance(answer, dict) else None
        if not isinstance(records, list):
            # Not Salesforce's query answer: reading it as "no rows" would mark every record deleted.
            raise UnexpectedAnswer("Salesforce answered a query without its documented records list")
        return records

    def _followed(self, lead: dict[str, Any]) -> dict[str, Any] | None:
        """The Contact a converted Lead became, with the Lead's conversion fields; None if not converted."""
        if not (lead.get("IsConverted") and lead.get("ConvertedContactId")):
            return None
        contact = {k.removeprefix(f"{_CONTACT}."): v for k, v in lead.items() if k.startswith(f"{_CONTACT}.")}
        if not contact.get("Id"):
            return {}  # converted into a Contact we cannot see (deleted, or no access)
        return contact | {f: lead.get(f) for f in self._conversion_fields()}

    def _with_conversions(self, contacts: Sequence[dict[str, Any]]) -> None:
        """Give each Contact the conversion fields of the Leads converted into it (one query per 200)."""
        wanted = self._conversion_fields()
        if not contacts or not wanted:
            return
        select = ", ".join(dict.fromkeys(["ConvertedContactId", *wanted]))
        by_15 = {str(c["Id"])[:15]: c for c in contacts}
        ids = list(by_15)
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ", ".join(soql_literal(i) for i in ids[start : start + READ_CHUNK])
            soql = f"SELECT {select} FROM Lead WHERE ConvertedContactId IN ({chunk})"  # set once converted
            for lead in self._query(soql):
                contact = by_15.get(str(lead["ConvertedContactId"])[:15])
                if contact is None:
                    continue
                flat = dotted(lead)
                for name in wanted:
                    # Several Leads merged into one Contact: converted if any was, won if any was.
                    contact[name] = contact.get(name) or flat.get(name)

    def fetch(self, refs: Sequence[RecordRef]) -> FetchResult:
        if len(refs) > READ_CHUNK:
            raise PermanentCrmError(f"read at most {READ_CHUNK} ids per query, got {len(refs)}")
        records: dict[RecordRef, RawRecord] = {}
        missing: set[RecordRef] = set()
        by_type: dict[str, list[RecordRef]] = {}
        for ref in refs:
            by_type.setdefault(ref.object_type, []).append(ref)
        for object_type, typed in by_type.items():
            ids = ", ".join(soql_literal(r.record_id) for r in typed)
            found = {
                r["Id"]: dotted(r)
                for r in self._query(f"SELECT {self._select(object_type)} FROM {object_type} WHERE Id IN ({ids})")
            }
            if object_type == "Contact":
                self._with_conversions(list(found.values()))
            for ref in typed:
                record = found.get(ref.record_id) or _by_15(found, ref.record_id)
                contact = None if record is None or object_type != "Lead" else self._followed(record)
                if record is None:
                    missing.add(ref)
                elif contact is not None:
                    missing.add(ref)  # read-only now: its Contact carries the assessment on
                    if contact:
                        records[RecordRef(CRM, "Contact", str(contact["Id"]))] = contact
                else:
                    records[ref] = _own(record)
        return FetchResult(records, frozenset(missing))

    def write(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        if len(writes) > COLLECTION_LIMIT:
            return self._bulk_write(writes)
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": w.ref.object_type}, "id": w.ref.record_id, **dict(w.values)} for w in writes
            ],
        }
        try:
            answer = call(
                lambda: self.sf.restful("composite/sobjects", method="PATCH", json=body, timeout=self.timeout)
            )
        except PermanentCrmError as exc:
            # A 400 for the whole request (e.g. an unknown field): every record carries it.
            return [WriteResult(w.ref, WriteStatus.FAILED, str(exc)) for w in writes]
        if not isinstance(answer, list) or len(answer) != len(writes):
            raise UnexpectedAnswer("Salesforce answered a collections update without one result per record")
        absent = sorted(_invalid_fields(answer) & self.mapping.own_fields)
        if absent and not any(r.get("success") for r in answer):
            raise OutputFieldsMissing(CRM, absent)  # setup never ran (or field-level security hides them)
        return [_result(w, r) for w, r in zip(writes, answer, strict=True)]

    def page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        if (cursor or "").startswith("bulk:") or (
            cursor is None and (self.count(object_type) or 0) > self.bulk_threshold
        ):
            return self._bulk_page(object_type, cursor, limit)
        # Keyset paging on Id: a cursor stays valid across restarts, unlike a query locator.
        where = f" WHERE Id > {soql_literal(cursor)}" if cursor else ""
        soql = f"SELECT {self._select(object_type)} FROM {object_type}{where} ORDER BY Id LIMIT {int(limit)}"
        answer = call(lambda: self.sf.query(soql, timeout=self.timeout))
        rows = [dotted(r) for r in answer["records"]]
        next_cursor = rows[-1]["Id"] if len(rows) == limit else None
        return self._listed(object_type, rows, next_cursor)

    def _listed(self, object_type: str, rows: list[dict[str, Any]], next_cursor: str | None) -> Page:
        """A page's records: a Contact with the conversion it came from, a Lead without its Contact's fields."""
        if object_type == "Contact":
            self._with_conversions(rows)
        return Page([(RecordRef(CRM, object_type, str(r["Id"])), _own(r)) for r in rows], next_cursor)

    def _bulk_page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        """One chunk of a Bulk API 2.0 query job; the cursor names the job and its locator."""
        # The SDK's public query() generator hides the locator that a resumable cursor needs.
        jobs = _bulk2(self.sf, object_type)._client
        if cursor is None:
            soql = f"SELECT {self._select(object_type)} FROM {object_type} ORDER BY Id"
            job = call(lambda: jobs.create_job(Operation.query, soql))
            call(lambda: jobs.wait_for_job(job["id"], True, self.bulk_poll))
            job_id, locator = str(job["id"]), ""
        else:
            _, job_id, locator = cursor.split(":", 2)
        answer = call(lambda: jobs.get_query_results(job_id, locator, self.bulk_page))
        self._bulk = True
        rows = [
            {k: (v if v != "" else None) for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(answer["records"]))
        ]
        following = f"bulk:{job_id}:{answer['locator']}" if answer["locator"] else None
        return self._listed(object_type, rows, following)

    def _bulk_write(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        """An ingest (update) job per object type; per-record failures from its failedResults."""
        errors: dict[str, str] = {}
        for object_type in dict.fromkeys(w.ref.object_type for w in writes):
            records = [
                {"Id": w.ref.record_id, **{k: _csv_value(v) for k, v in w.values.items()}}
                for w in writes
                if w.ref.object_type == object_type
            ]
            errors.update(self._ingest(object_type, records))
        results = []
        for write in writes:
            error = errors.get(write.ref.record_id)
            if error is None:
                results.append(WriteResult(write.ref, WriteStatus.OK))
            else:
                code, _, message = error.partition(":")
                results.append(_result(write, {"success": False, "errors": [{"statusCode": code, "message": message}]}))
        return results

    def _ingest(self, object_type: str, records: list[dict[str, str]]) -> dict[str, str]:
        """Run one update job; the failed record ids with Salesforce's "CODE:message"."""
        handle = _bulk2(self.sf, object_type)
        jobs = call(lambda: handle.update(records=records, wait=self.bulk_poll))
        errors: dict[str, str] = {}
        for job in jobs:
            failed = _failed_records(handle, str(job["job_id"]))
            errors.update((row["sf__Id"], row["sf__Error"]) for row in csv.DictReader(io.StringIO(failed)))
        return errors

    def _describe_fresh(self, object_type: str) -> dict[str, Any]:
        described: dict[str, Any] = call(lambda: getattr(self.sf, object_type).describe())
        return described

    def count(self, object_type: str) -> int | None:
        answer = call(lambda: self.sf.query(f"SELECT COUNT() FROM {object_type}", timeout=self.timeout))
        return int(answer["totalSize"])

    def related(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        """A changed Opportunity -> the Contacts converted with it (one Lead query per 200 Opportunities)."""
        opportunities = [r for r in refs if r.object_type in RELATED_OBJECTS]
        links: dict[RecordRef, list[RecordRef]] = {r: [] for r in opportunities}
        if not opportunities or "Contact" not in self.mapping.objects or not self._conversion_fields():
            return links  # nothing assessed reads an Opportunity: its change changes no score
        by_15 = {r.record_id[:15]: r for r in opportunities}  # outbound messages send 18 characters, admins 15
        ids = [r.record_id for r in by_15.values()]
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ", ".join(soql_literal(i) for i in ids[start : start + READ_CHUNK])
            select = "SELECT ConvertedContactId, ConvertedOpportunityId FROM Lead"
            soql = f"{select} WHERE ConvertedOpportunityId IN ({chunk})"
            for lead in self._query(soql):
                opportunity = by_15.get(str(lead.get("ConvertedOpportunityId") or "")[:15])
                if opportunity is not None and lead.get("ConvertedContactId"):
                    links[opportunity].append(RecordRef(CRM, "Contact", str(lead["ConvertedContactId"])))
        return links

    def missing_outputs(self) -> list[str]:
        """Output fields absent from, or invisible on, any mapped object (describe, fresh: setup may just have run)."""
        missing: set[str] = set()
        for object_type in self.mapping.objects:
            present = {f["name"] for f in self._describe_fresh(object_type)["fields"]}
            missing.update(self.mapping.own_fields - present)
        return sorted(missing)

    @property
    def user_id(self) -> str:
        """The integration user's id: its edits are our own writes."""
        if self._user_id is None:
            info = call(lambda: self.sf.oauth2("userinfo"))
            self._user_id = str((info or {}).get("user_id", ""))
        return self._user_id

    def is_own_write(self, event: ChangeEvent) -> bool:
        if not event.actor:
            return False
        # Outbound messages send 18-character ids; compare on the case-sensitive 15.
        return event.actor[:15] == self.user_id[:15]


def _bulk2(sf: Salesforce, object_type: str) -> Any:
    """The SDK's Bulk API 2.0 handle for one object type (typed loosely, as the SDK builds it)."""
    handler: Any = sf.bulk2
    return getattr(handler, object_type)


def _failed_records(handle: Any, job_id: str) -> str:
    failed: str = call(lambda: handle.get_failed_records(job_id))
    return failed


def _invalid_fields(answer: list[Any]) -> set[str]:
    """Fields named by INVALID_FIELD errors in a collections answer."""
    names: set[str] = set()
    for result in answer:
        for error in (result.get("errors") or []) if isinstance(result, dict) else []:
            if error.get("statusCode") == "INVALID_FIELD":
                names.update(str(f) for f in error.get("fields") or [])
    return names


def _csv_value(value: Any) -> str:
    return "true" if value is True else "false" if value is False else "#N/A" if value is None else str(value)


def _own(record: dict[str, Any]) -> dict[str, Any]:
    """A Lead's own fields, without those of the Contact it was converted into."""
    return {k: v for k, v in record.items() if not k.startswith(f"{_CONTACT}.")}


def _by_15(found: dict[str, dict[str, Any]], record_id: str) -> dict[str, Any] | None:
    """A 15-character id (as admins paste them) matches its 18-character form."""
    return next((r for i, r in found.items() if i[:15] == record_id[:15]), None)


def _result(write: FieldWrite, raw: dict[str, Any]) -> WriteResult:
    if raw.get("success"):
        return WriteResult(write.ref, WriteStatus.OK)
    errors = raw.get("errors") or [{}]
    code = str(errors[0].get("statusCode", "UNKNOWN"))
    fields = ", ".join(errors[0].get("fields") or [])
    reason = f"{code}: {errors[0].get('message', '')}" + (f" (fields: {fields})" if fields else "")
    if code in _GONE:
        return WriteResult(write.ref, WriteStatus.MISSING, reason)
    if code == _CONVERTED:
        return WriteResult(write.ref, WriteStatus.MISSING, "the Lead was converted; its Contact is scored instead")
    if code in RETRIABLE_CODES:
        return WriteResult(write.ref, WriteStatus.RETRY, reason)
    return WriteResult(write.ref, WriteStatus.FAILED, reason)
