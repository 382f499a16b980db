"""The `sqlite` backend entry point: queue and state in `LEADTHERM_DB` (default ./leadtherm.db)."""

from __future__ import annotations

from pathlib import Path

from integration.composition.plugins import Env, NoStoredData
from integration.ports import StateStore, WorkQueue


class SqliteBackend:
    def open(self, env: Env) -> tuple[WorkQueue, StateStore]:
        from adapters.sqlite.store import Database, SqliteStateStore, SqliteWorkQueue

        db = Database(env.get("LEADTHERM_DB") or "leadtherm.db")
        return SqliteWorkQueue(db), SqliteStateStore(db)

    def existing(self, env: Env) -> str:
        path = Path(env.get("LEADTHERM_DB") or "leadtherm.db").absolute()
        if not path.is_file():
            hint = "from LEADTHERM_DB" if env.get("LEADTHERM_DB") else "LEADTHERM_DB is not set, so ./leadtherm.db"
            raise NoStoredData(str(path), f"{hint}; point LEADTHERM_DB at the database `leadtherm serve` uses")
        return str(path)


backend = SqliteBackend()
