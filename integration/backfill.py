"""Backfill: score every existing record once, page by page, resumable from the last cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from integration.pipeline import BatchReport, Pipeline
from integration.ports import ChangeEvent, StateStore, WorkQueue

DONE = "done"


def cursor_name(crm: str, object_type: str) -> str:
    return f"backfill:{crm}:{object_type}"


def backfill(
    pipeline: Pipeline,
    crm: str,
    object_types: Sequence[str],
    state: StateStore,
    queue: WorkQueue,
    page_size: int = 100,
    on_page: Callable[[str, int], None] | None = None,
) -> BatchReport:
    """Assess and write every record; a page's cursor is saved only after its writes settled.

    Records whose write failed are queued as ordinary rescore events, so the worker's
    retries and dead-letter queue take care of them and nothing is lost.
    """
    report = BatchReport()
    client = pipeline.crms[crm].client
    for object_type in object_types:
        name = cursor_name(crm, object_type)
        cursor = state.get_cursor(name)
        while cursor != DONE:
            page = client.page(object_type, cursor, page_size)
            failures = pipeline.apply(dict(page.records), report)
            if failures:
                queue.enqueue([ChangeEvent(f"backfill:{ref}:{cursor}", ref) for ref in failures])
            cursor = page.next_cursor or DONE
            state.set_cursor(name, cursor)
            if on_page is not None:
                on_page(object_type, len(page.records))
    for object_type in object_types:  # finished: the next backfill starts from the top
        state.set_cursor(cursor_name(crm, object_type), None)
    return report
