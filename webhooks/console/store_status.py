"""Which rules store the console edits, and whether a running service reads it (for the header and Apply)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from integration.ports.rules_store import RulesStore, RulesStoreError, fresh_readers


@dataclass(frozen=True)
class StoreStatus:
    location: str  # "folder /srv/my-mappings", "DynamoDB table leadtherm"
    readers: tuple[str, ...]  # the services that marked the store within READER_FRESH seconds

    def applied(self, number: int) -> str:
        """What Apply says: the service picks the version up only when a service reads this store."""
        if self.readers:
            return f"Applied as version {number}; the service scores with it from its next batch."
        return f"Applied to {self.location} as version {number}; no running service reads it."


def store_status(store: RulesStore, now: datetime) -> StoreStatus:
    try:
        readers = tuple(r.name for r in fresh_readers(store, now))
    except RulesStoreError:
        readers = ()  # unreadable marks: nothing can be promised about a service
    return StoreStatus(store.location(), readers)


__all__ = ["StoreStatus", "store_status"]
