"""After an expired offset: the contacts modified since the last committed entry, found by CRM search.

The search API returns at most 10,000 results of one query, so a longer list is read as a
series of queries, each starting at the last modification date the previous one reached.
The contacts found are queued as ordinary re-score events; the worker does the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from hubspot import HubSpot
from hubspot.crm.contacts import Filter, FilterGroup, PublicObjectSearchRequest
from urllib3.util.retry import Retry

from adapters.hubspot.errors import call
from integration.ports import ChangeEvent, EventKind, RecordRef
from integration.service.retry import POLICY, retry_on_rate_limit

SEARCH_LIMIT = 10_000  # results one search query pages through at most
PAGE = 100
MODIFIED = "lastmodifieddate"


class ModifiedSince:
    """Pages of contact ids modified at or after a time, through the CRM token of the other API calls."""

    def __init__(self, access_token: str, api_base: str, timeout: float = POLICY.request_timeout) -> None:
        self.api = HubSpot(access_token=access_token, host=api_base.rstrip("/"), retry=Retry(total=0, redirect=0))
        self.timeout = timeout

    def _page(self, since_ms: int, after: str | None) -> tuple[list[tuple[str, int]], str | None]:
        search = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[Filter(property_name=MODIFIED, operator="GTE", value=str(since_ms))])],
            sorts=[MODIFIED],
            properties=[MODIFIED],
            limit=PAGE,
            after=after,
        )
        answer = retry_on_rate_limit()(
            lambda: call(
                lambda: self.api.crm.contacts.search_api.do_search(search, _request_timeout=self.timeout),
                "results",
            )
        )
        found = []
        for obj in answer.results:
            stamp = (obj.properties or {}).get(MODIFIED)
            found.append((str(obj.id), _ms(stamp, since_ms)))
        following = answer.paging.next.after if answer.paging and answer.paging.next else None
        return found, following

    def ids(self, since_ms: int) -> Iterator[str]:
        """Every contact modified since `since_ms` (epoch ms), oldest change first, each once."""
        seen: set[str] = set()
        after: str | None = None
        read = 0
        last_modified = since_ms
        while True:
            page, after = self._page(since_ms, after)
            for record_id, modified in page:
                if record_id not in seen:
                    seen.add(record_id)
                    yield record_id
                last_modified = modified
            read += len(page)
            if after is None:
                return
            if read + PAGE > SEARCH_LIMIT:  # the next page would pass the search cap: query again from here
                if last_modified <= since_ms:  # 10,000 changes in one millisecond: no way forward by date
                    return
                since_ms, after, read = last_modified, None, 0


def _ms(value: object, default: int) -> int:
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return int(value) if value.isdigit() else default
    return default


def catch_up_events(ids: Iterator[str], since_ms: int, crm: str = "hubspot") -> Iterator[ChangeEvent]:
    """One re-score per contact; the id repeats if the catch-up is redone, so the queue drops the repeat."""
    for record_id in ids:
        ref = RecordRef(crm, "contact", record_id)
        yield ChangeEvent(f"hubspot:journal-catchup:{since_ms}:{record_id}", ref, EventKind.RESCORE)


def chunks(events: Iterator[ChangeEvent], size: int, each: Callable[[list[ChangeEvent]], None]) -> int:
    """Hand `events` to `each` in lists of at most `size`; how many in all."""
    batch: list[ChangeEvent] = []
    total = 0
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            each(batch)
            total += len(batch)
            batch = []
    if batch:
        each(batch)
        total += len(batch)
    return total
