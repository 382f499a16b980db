"""Salesforce Accounts for account scores: SOQL with IN lists (200 ids), sObject Collections writes (200).

An Account's people are its Contacts (`AccountId`), read in the same query as the Account through its
`Contacts` child relationship. A Lead converted onto the Account counts through the Contact it became
(conversion puts that Contact on the Account), whose read carries the Lead's conversion and won deal,
as the contact client reads it; a converted Lead whose Contact is gone is gone for the contact client
too. Lead.ConvertedAccountId has no relationship name, so it could only cost a query of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from adapters.salesforce.client import COLLECTION_LIMIT, CRM, READ_CHUNK, SalesforceClient, _result, soql_literal
from adapters.salesforce.errors import call
from adapters.salesforce.flatten import dotted
from integration.errors import OutputFieldsMissing, PermanentCrmError, UnexpectedAnswer
from integration.ports import FetchResult, FieldWrite, RawRecord, RecordRef, WriteResult, WriteStatus
from mappings.company import CompanyMapping

ACCOUNT = "Account"
CONTACTS = "Contacts"  # Account's child relationship to Contact.AccountId


class SalesforceAccounts:
    """The CompanyClient of Salesforce, on the contact client's session (renewed with it)."""

    crm = CRM
    company_type = ACCOUNT
    company_batch_size = min(READ_CHUNK, COLLECTION_LIMIT)

    def __init__(self, client: SalesforceClient, mapping: CompanyMapping) -> None:
        self.client = client
        self.mapping = mapping
        self._fields: list[str] | None = None
        # The Contacts of the Accounts the last fetch_companies read (by 15-character id): people_of
        # answers from them, as the roll-up asks right after the read.
        self._contacts: dict[str, list[RecordRef]] = {}

    def _query(self, soql: str) -> list[dict[str, Any]]:
        answer = call(lambda: self.client.sf.query_all(soql, timeout=self.client.timeout))
        records = answer.get("records") if isinstance(answer, dict) else None
        if not isinstance(records, list):
            raise UnexpectedAnswer("Salesforce answered a query without its documented records list")
        return records

    def fields(self) -> list[str]:
        """The mapped Account fields that exist (describe, once)."""
        if self._fields is None:
            self._fields = [f for f in self.mapping.read_fields if self.client._has(ACCOUNT, f)]
        return self._fields

    def fetch_companies(self, refs: Sequence[RecordRef]) -> FetchResult:
        if len(refs) > READ_CHUNK:
            raise PermanentCrmError(f"read at most {READ_CHUNK} ids per query, got {len(refs)}")
        ids = ", ".join(soql_literal(r.record_id) for r in refs)
        select = ", ".join(dict.fromkeys(["Id", *self.fields()]))
        soql = f"SELECT {select}, (SELECT Id FROM {CONTACTS}) FROM Account WHERE Id IN ({ids})"
        found: dict[str, RawRecord] = {}
        self._contacts = {}
        for row in self._query(soql):
            key = str(row["Id"])[:15]
            self._contacts[key] = [RecordRef(CRM, "Contact", str(c["Id"])) for c in self._children(row.pop(CONTACTS))]
            found[key] = dotted(row)
        records: dict[RecordRef, RawRecord] = {}
        for ref in refs:
            record = found.get(ref.record_id[:15])
            if record is not None:
                records[ref] = record
        return FetchResult(records, frozenset(r for r in refs if r not in records))

    def _children(self, nested: Any) -> list[dict[str, Any]]:
        """A child relationship's rows: null when there are none, paged on with nextRecordsUrl past a batch."""
        if nested is None:
            return []
        if not isinstance(nested, dict) or not isinstance(nested.get("records"), list):
            raise UnexpectedAnswer("Salesforce answered a subquery without its documented records list")
        rows = list(nested["records"])
        while not nested.get("done", True) and nested.get("nextRecordsUrl"):
            url = str(nested["nextRecordsUrl"])
            nested = call(partial(self.client.sf.query_more, url, identifier_is_url=True, timeout=self.client.timeout))
            rows.extend(nested.get("records") or [])
        return rows

    def people_of(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        """The Contacts of each Account: those its read brought, the others queried (200 Accounts a query)."""
        people: dict[RecordRef, list[RecordRef]] = {}
        unread = []
        for ref in refs:
            held = self._contacts.get(ref.record_id[:15])
            if held is None:
                unread.append(ref)
            else:
                people[ref] = list(held)
        by_15 = {r.record_id[:15]: r for r in unread}
        for start in range(0, len(unread), READ_CHUNK):
            ids = ", ".join(soql_literal(r.record_id) for r in unread[start : start + READ_CHUNK])
            for contact in self._query(f"SELECT Id, AccountId FROM Contact WHERE AccountId IN ({ids})"):
                account = by_15.get(str(contact.get("AccountId") or "")[:15])
                if account is not None:
                    people.setdefault(account, []).append(RecordRef(CRM, "Contact", str(contact["Id"])))
        return {ref: people.get(ref, []) for ref in refs}

    def write_companies(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        if len(writes) > COLLECTION_LIMIT:
            raise PermanentCrmError(f"an sObject Collections update takes at most {COLLECTION_LIMIT} records")
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": ACCOUNT}, "id": w.ref.record_id, **dict(w.values)} for w in writes],
        }
        try:
            answer = call(
                lambda: self.client.sf.restful(
                    "composite/sobjects", method="PATCH", json=body, timeout=self.client.timeout
                )
            )
        except PermanentCrmError as exc:
            return [WriteResult(w.ref, WriteStatus.FAILED, str(exc)) for w in writes]
        if not isinstance(answer, list) or len(answer) != len(writes):
            raise UnexpectedAnswer("Salesforce answered a collections update without one result per record")
        invalid = {
            str(f)
            for r in answer
            if isinstance(r, dict)
            for e in r.get("errors") or []
            if e.get("statusCode") == "INVALID_FIELD"
            for f in e.get("fields") or []
        }
        absent = sorted(invalid & self.mapping.own_fields)
        if absent and not any(r.get("success") for r in answer):
            raise OutputFieldsMissing(CRM, absent)
        return [_result(w, r) for w, r in zip(writes, answer, strict=True)]

    def missing_company_outputs(self) -> list[str]:
        present = {f["name"] for f in self.client._describe_fresh(ACCOUNT)["fields"]}
        return sorted(self.mapping.own_fields - present)
