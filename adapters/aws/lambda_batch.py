"""One SQS batch handed to a Lambda, seen through the WorkQueue port.

The event source mapping deletes every message the handler does not report as failed,
so acknowledging is a no-op here; a release is reported as a batch-item failure (after
its visibility is set to the retry delay); a dead letter goes to the DLQ and a deferral
(a paused CRM) is re-sent with a delay, neither reported, so the mapping deletes the original.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from integration.ports import ChangeEvent, DeadLetter, QueueItem, QueueStats, Settlement, StateStore, WorkQueue
from integration.service.settlement import settle_in_order


class LambdaBatchQueue:
    def __init__(self, queue: WorkQueue, receipt_handles: Mapping[str, str]) -> None:
        self.queue = queue
        self.handles = dict(receipt_handles)  # messageId -> receiptHandle
        self.failed: list[str] = []  # messageIds for batchItemFailures

    def _as_received(self, items: Sequence[QueueItem]) -> list[QueueItem]:
        return [QueueItem(i.event, self.handles[i.receipt], i.attempts) for i in items]

    def enqueue(self, events: Sequence[ChangeEvent]) -> None:
        self.queue.enqueue(events)

    def lease(self, max_items: int, visibility_timeout: float) -> list[QueueItem]:
        return []  # the event source mapping leases for us

    def ack(self, items: Sequence[QueueItem]) -> None:
        """Nothing to do: the mapping deletes what is not reported as failed."""

    def release(self, items: Sequence[QueueItem], delay: float) -> None:
        self.queue.release(self._as_received(items), delay)
        self.failed.extend(i.receipt for i in items if i.receipt not in self.failed)

    def defer(self, items: Sequence[QueueItem], delay: float) -> None:
        """Re-sent delayed and the received copy deleted (not reported: nothing is left to redrive)."""
        self.queue.defer(self._as_received(items), delay)

    def dead_letter(self, items: Sequence[QueueItem], reason: str) -> None:
        self.queue.dead_letter(self._as_received(items), reason)

    def dead_letter_events(self, events: Sequence[ChangeEvent], reason: str) -> None:
        self.queue.dead_letter_events(events, reason)

    def settle(self, batch: Settlement, state: StateStore) -> None:
        settle_in_order(self, state, batch)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return self.queue.dead_letters(limit)

    def replay(self, ids: Sequence[str] | None = None) -> int:
        return self.queue.replay(ids)

    def stats(self) -> QueueStats:
        return self.queue.stats()
