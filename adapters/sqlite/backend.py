"""The `sqlite` backend entry point: queue and state in `LEADTHERM_DB` (default ./leadtherm.db)."""

from __future__ import annotations

from integration.plugins import Env
from integration.ports import StateStore, WorkQueue


class SqliteBackend:
    def open(self, env: Env) -> tuple[WorkQueue, StateStore]:
        from adapters.sqlite.store import Database, SqliteStateStore, SqliteWorkQueue

        db = Database(env.get("LEADTHERM_DB") or "leadtherm.db")
        return SqliteWorkQueue(db), SqliteStateStore(db)


backend = SqliteBackend()
