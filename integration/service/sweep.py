"""Sweeps: re-assess the records whose temperature is due to drop, with no event from the CRM."""

from __future__ import annotations

from datetime import datetime

from integration.ports import ChangeEvent, RecordRef, StateStore, WorkQueue


def enqueue_due(state: StateStore, queue: WorkQueue, now: datetime, limit: int = 10_000) -> list[RecordRef]:
    """Queue a rescore for every record whose predicted drop time has come; returns them."""
    due = state.due(now, limit)
    stamp = now.strftime("%Y%m%dT%H%M%S")
    queue.enqueue([ChangeEvent(f"sweep:{ref}:{stamp}", ref, occurred_at=now) for ref in due])
    return due
