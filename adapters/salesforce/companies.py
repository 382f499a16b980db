"""Salesforce Accounts for account scores: SOQL with IN lists (200 ids), sObject Collections writes (200).

An Account's people are its Contacts (`AccountId`) and the Leads converted onto it (`ConvertedAccountId`)
whose Contact is not already among them; a converted Lead is read through its Contact, as the
contact client does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.salesforce.client import COLLECTION_LIMIT, CRM, READ_CHUNK, SalesforceClient, _result, soql_literal
from adapters.salesforce.errors import call
from adapters.salesforce.flatten import dotted
from integration.errors import OutputFieldsMissing, PermanentCrmError, UnexpectedAnswer
from integration.ports import FetchResult, FieldWrite, RawRecord, RecordRef, WriteResult, WriteStatus
from mappings.company import CompanyMapping

ACCOUNT = "Account"


class SalesforceAccounts:
    """The CompanyClient of Salesforce, on the contact client's session (renewed with it)."""

    crm = CRM
    company_type = ACCOUNT
    company_batch_size = min(READ_CHUNK, COLLECTION_LIMIT)

    def __init__(self, client: SalesforceClient, mapping: CompanyMapping) -> None:
        self.client = client
        self.mapping = mapping
        self._fields: list[str] | None = None

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
        found = {r["Id"][:15]: dotted(r) for r in self._query(f"SELECT {select} FROM Account WHERE Id IN ({ids})")}
        records: dict[RecordRef, RawRecord] = {}
        for ref in refs:
            record = found.get(ref.record_id[:15])
            if record is not None:
                records[ref] = record
        return FetchResult(records, frozenset(r for r in refs if r not in records))

    def people_of(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        people: dict[RecordRef, list[RecordRef]] = {r: [] for r in refs}
        by_15 = {r.record_id[:15]: r for r in refs}
        for start in range(0, len(refs), READ_CHUNK):
            ids = ", ".join(soql_literal(r.record_id) for r in refs[start : start + READ_CHUNK])
            contacts = self._query(f"SELECT Id, AccountId FROM Contact WHERE AccountId IN ({ids})")
            seen = {str(c["Id"])[:15] for c in contacts}
            for contact in contacts:
                account = by_15.get(str(contact.get("AccountId") or "")[:15])
                if account is not None:
                    people[account].append(RecordRef(CRM, "Contact", str(contact["Id"])))
            soql = f"SELECT Id, ConvertedAccountId, ConvertedContactId FROM Lead WHERE ConvertedAccountId IN ({ids})"
            for lead in self._query(soql):
                if str(lead.get("ConvertedContactId") or "")[:15] in seen:
                    continue  # the same person, already counted through their Contact
                account = by_15.get(str(lead.get("ConvertedAccountId") or "")[:15])
                if account is not None:
                    people[account].append(RecordRef(CRM, "Lead", str(lead["Id"])))
        return people

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
