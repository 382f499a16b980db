"""The port a CRM adapter implements for company / account scores (HubSpot companies, Salesforce Accounts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from integration.ports import FetchResult, FieldWrite, RecordRef, WriteResult


class CompanyClient(Protocol):
    """Companies read and written in the CRM's batch sizes, and the people of each company."""

    crm: str
    company_type: str  # the RecordRef object type of a company ("company", "Account")

    @property
    def company_batch_size(self) -> int:
        """At most this many companies per `fetch_companies`, `people_of` and `write_companies`."""
        ...

    def fetch_companies(self, refs: Sequence[RecordRef]) -> FetchResult:
        """Read companies by id (their mapped attributes and current outputs)."""
        ...

    def people_of(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        """The people (contacts, leads) of each company, as refs the CrmClient can fetch."""
        ...

    def write_companies(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        """Update companies; one result per write, in order."""
        ...

    def missing_company_outputs(self) -> list[str]:
        """The mapped company output fields the CRM does not have."""
        ...
