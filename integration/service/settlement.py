"""Commit a pass on backends without one transaction across queue and state, in an order safe to replay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from integration.ports import QueueItem, Settlement, StateStore


class QueueOps(Protocol):
    """The settling half of a WorkQueue."""

    def ack(self, items: Sequence[QueueItem]) -> None: ...

    def release(self, items: Sequence[QueueItem], delay: float) -> None: ...

    def defer(self, items: Sequence[QueueItem], delay: float) -> None: ...

    def dead_letter(self, items: Sequence[QueueItem], reason: str) -> None: ...


def settle_in_order(queue: QueueOps, state: StateStore, batch: Settlement) -> None:
    """Audit first, then state, processed ids and cursors, the queue last.

    A crash anywhere leaves the events queued; the next pass finds the CRM already holding
    what was written and the stored state agreeing with it, so it writes and audits nothing twice.
    """
    if batch.audit:
        state.append_audit(batch.audit)
    if batch.saved:
        state.save_many(batch.saved)
    for ref in batch.forgotten:
        state.forget(ref)
    if batch.processed and batch.processed_until is not None:
        state.mark_processed(batch.processed, batch.processed_until)
    for name, value in batch.cursors.items():
        state.set_cursor(name, value)
    for items, reason in batch.dead:
        queue.dead_letter(items, reason)
    for items, delay in batch.released:
        queue.release(items, delay)
    for items, delay in batch.deferred:
        queue.defer(items, delay)
    if batch.acked:
        queue.ack(batch.acked)
