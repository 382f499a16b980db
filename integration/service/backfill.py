"""Backfill: score every existing record once, page by page, resumable from the last cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from integration.errors import CrmWideError
from integration.ports import ChangeEvent, Settlement, StateStore, WorkQueue
from integration.service.pipeline import BatchReport, Outcome, Pipeline

DONE = "done"


def cursor_name(crm: str, object_type: str) -> str:
    return f"backfill:{crm}:{object_type}"


def progress_name(crm: str, object_type: str) -> str:
    """Records done so far, stored with the cursor: a rerun can say where it resumes."""
    return f"backfill:{crm}:{object_type}:records"


def resumed_at(state: StateStore, crm: str, object_types: Sequence[str]) -> int | None:
    """Records an interrupted backfill already did; None when the next one starts from the top."""
    if all(state.get_cursor(cursor_name(crm, o)) is None for o in object_types):
        return None
    return sum(int(state.get_cursor(progress_name(crm, o)) or 0) for o in object_types)


def start_over(state: StateStore, crm: str, object_types: Sequence[str]) -> None:
    for object_type in object_types:
        state.set_cursor(cursor_name(crm, object_type), None)
        state.set_cursor(progress_name(crm, object_type), None)


def backfill(
    pipeline: Pipeline,
    crm: str,
    object_types: Sequence[str],
    state: StateStore,
    queue: WorkQueue,
    page_size: int = 100,
    on_page: Callable[[str, int], None] | None = None,
) -> BatchReport:
    """Assess and write every record; a page's cursor commits with its state and audit, in one settlement.

    A record that cannot be assessed or written never holds the backfill on its page: it is
    queued as an ordinary rescore event (the worker's retries and dead-letter queue take it
    from there) and the page moves on; `report.failed` counts them. A CRM-wide failure
    (revoked token, daily limit, missing output fields) stops the backfill where it is, with
    the reason in `report.paused`; rerun it once the cause is fixed and it resumes there.
    """
    report = BatchReport()
    client = pipeline.crms[crm].client
    for object_type in object_types:
        name, progress = cursor_name(crm, object_type), progress_name(crm, object_type)
        cursor = state.get_cursor(name)
        done = int(state.get_cursor(progress) or 0) if cursor is not None else 0
        while cursor != DONE:
            try:
                page = client.page(object_type, cursor, page_size)
            except CrmWideError as exc:
                report.paused[crm] = str(exc)
                return report
            batch = Settlement()
            failures = pipeline.apply(dict(page.records), report, batch)
            if any(f.outcome is Outcome.PAUSE for f in failures.values()):
                # Commit what this page did write (so it is audited), but not the cursor: the page comes again.
                state_only = Settlement(saved=batch.saved, forgotten=batch.forgotten, audit=batch.audit)
                queue.settle(state_only, state)
                report.paused[crm] = next(f.reason for f in failures.values() if f.outcome is Outcome.PAUSE)
                return report
            if failures:
                # Queued before the cursor moves past them; the same id on a rerun is the same pending event.
                queue.enqueue([ChangeEvent(f"backfill:{ref}:{cursor}", ref) for ref in sorted(failures)])
                report.retried += len(failures)
            following = page.next_cursor or DONE
            done += len(page.records)
            batch.cursors[name] = following
            batch.cursors[progress] = str(done)
            queue.settle(batch, state)
            cursor = following
            if on_page is not None:
                on_page(object_type, len(page.records))
    finished = Settlement(cursors={n: None for o in object_types for n in (cursor_name(crm, o), progress_name(crm, o))})
    queue.settle(finished, state)  # finished: the next backfill starts from the top
    return report
