"""The admins' drafts in the SQLite file, one row per author (JSON: the base head and files, the draft, choices)."""

from __future__ import annotations

from adapters.sqlite.store import Database
from integration.ports import Draft
from integration.ports.codec import dump_draft, load_draft

SCHEMA = "CREATE TABLE IF NOT EXISTS drafts (author TEXT PRIMARY KEY, payload TEXT NOT NULL, saved_at REAL NOT NULL)"


class SqliteDrafts:
    """DraftStore on the state store's SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.write() as connection:
            connection.execute(SCHEMA)

    def load_draft(self, author: str) -> Draft | None:
        rows = self.db.read("SELECT payload FROM drafts WHERE author = ?", (author,))
        return load_draft(str(rows[0][0])) if rows else None

    def save_draft(self, author: str, draft: Draft) -> None:
        with self.db.write() as connection:
            connection.execute(
                "INSERT INTO drafts (author, payload, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT (author) DO UPDATE SET payload = excluded.payload, saved_at = excluded.saved_at",
                (author, dump_draft(draft), self.db.clock()),
            )

    def drop_draft(self, author: str) -> None:
        with self.db.write() as connection:
            connection.execute("DELETE FROM drafts WHERE author = ?", (author,))
