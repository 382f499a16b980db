"""The embedded backend: work queue and state store in one SQLite file."""

from adapters.sqlite.store import Database, SqliteStateStore, SqliteWorkQueue, StorageError

__all__ = ["Database", "SqliteStateStore", "SqliteWorkQueue", "StorageError"]
