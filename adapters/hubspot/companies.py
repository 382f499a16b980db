"""HubSpot companies for company scores: batch read/update (100), people through v4 associations (1000)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)

from adapters.hubspot.client import BATCH_LIMIT, CRM, batch_read, batch_write, wire
from adapters.hubspot.errors import call
from integration.ports import FetchResult, FieldWrite, RecordRef, WriteResult
from integration.service.retry import POLICY
from mappings.company import CompanyMapping

ASSOCIATIONS_LIMIT = 1000  # v4 associations batch read, since February 2025
COMPANY = "company"


class HubSpotCompanies:
    """The CompanyClient of HubSpot: shares the contact client's SDK (and so its rate limiting)."""

    crm = CRM
    company_type = COMPANY
    company_batch_size = BATCH_LIMIT

    def __init__(self, api: HubSpot, mapping: CompanyMapping, timeout: float = POLICY.request_timeout) -> None:
        self.api = api
        self.mapping = mapping
        self.properties = [f for f in mapping.read_fields if f != mapping.id_field]
        self.timeout = timeout

    def fetch_companies(self, refs: Sequence[RecordRef]) -> FetchResult:
        def read(batch: Sequence[RecordRef]) -> Any:
            body = BatchReadInputSimplePublicObjectId(
                properties=self.properties, inputs=[SimplePublicObjectId(id=r.record_id) for r in batch]
            )
            return call(
                lambda: self.api.crm.companies.batch_api.read(body, _request_timeout=self.timeout), "status", "results"
            )

        return batch_read(refs, read, COMPANY)

    def people_of(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        people: dict[RecordRef, list[RecordRef]] = {r: [] for r in refs}
        for start in range(0, len(refs), ASSOCIATIONS_LIMIT):
            pending: list[tuple[str, str | None]] = [
                (r.record_id, None) for r in refs[start : start + ASSOCIATIONS_LIMIT]
            ]
            while pending:  # a company with more than a page of contacts answers with `after` for the rest
                body = BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=[PublicFetchAssociationsBatchRequest(id=i, after=after) for i, after in pending]
                )
                answer = self._associations(body)
                pending = []
                for result in answer.results or []:
                    company = RecordRef(CRM, COMPANY, str(result._from.id))
                    people.setdefault(company, []).extend(
                        RecordRef(CRM, "contact", str(to.to_object_id)) for to in result.to or []
                    )
                    after = _after(result)
                    if after:
                        pending.append((company.record_id, after))
        return people

    def _associations(self, body: BatchInputPublicFetchAssociationsBatchRequest) -> Any:
        return call(
            lambda: self.api.crm.associations.v4.batch_api.get_page(
                "companies", "contacts", body, _request_timeout=self.timeout
            ),
            "status",
        )

    def write_companies(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        def update(batch: Sequence[FieldWrite]) -> Any:
            body = BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id=w.ref.record_id, properties=wire(w)) for w in batch]
            )
            return call(
                lambda: self.api.crm.companies.batch_api.update(body, _request_timeout=self.timeout),
                "status",
                "results",
            )

        return batch_write(writes, update, self.mapping.own_fields, "company")

    def missing_company_outputs(self) -> list[str]:
        answer = call(
            lambda: self.api.crm.properties.core_api.get_all("companies", _request_timeout=self.timeout), "results"
        )
        present = {str(p.name) for p in answer.results}
        return sorted(self.mapping.own_fields - present)


def _after(result: Any) -> str | None:
    paging = getattr(result, "paging", None)
    following = getattr(paging, "next", None) if paging else None
    after = getattr(following, "after", None) if following else None
    return str(after) if after else None
