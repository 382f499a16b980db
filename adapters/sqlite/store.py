"""The embedded backend: the work queue and the state store in one SQLite file (WAL).

Durability: `synchronous=FULL`, so an event whose enqueue returned survives `kill -9`
and power loss alike; the webhook is acknowledged only after that. Every thread gets its
own connection; writers take the lock up front (`BEGIN IMMEDIATE`) and keep it briefly,
so a webhook process and a worker process can share the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from adapters.sqlite.lease_holders import holder_is_gone, new_lease_id
from integration.errors import LeadthermError
from integration.ports import (
    AuditEntry,
    ChangeEvent,
    DeadLetter,
    DraftStore,
    QueueItem,
    QueueStats,
    RecordQuery,
    RecordRef,
    Settlement,
    StateStore,
    StoredAssessment,
    StoredPage,
)
from integration.ports.codec import dump_assessment, dump_audit, load_assessment, load_audit
from integration.service.settlement import settle_in_order

Clock = Callable[[], float]
_CHUNK = 500  # keeps IN (...) lists under SQLite's variable limit
RECLAIM_EVERY = 10.0  # seconds between looks for leases of processes that died

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    ref TEXT NOT NULL,
    payload TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    lease_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_visible ON queue (visible_at, seq);
CREATE INDEX IF NOT EXISTS queue_ref ON queue (ref, visible_at);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    events TEXT NOT NULL,
    size INTEGER NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assessments (
    ref TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    next_drop_at REAL
);
CREATE INDEX IF NOT EXISTS assessments_due ON assessments (next_drop_at) WHERE next_drop_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ref TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_ref ON audit (ref, id);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pauses (crm TEXT PRIMARY KEY, record TEXT NOT NULL);
"""

# Changes to files made by earlier versions, in order; `PRAGMA user_version` counts those applied.
MIGRATIONS = (
    # 1: pauses were kept in `cursors` as `pause:<crm>`; they have their own table now.
    """
    INSERT OR REPLACE INTO pauses (crm, record)
        SELECT substr(name, length('pause:') + 1), value FROM cursors WHERE name LIKE 'pause:%';
    DELETE FROM cursors WHERE name LIKE 'pause:%';
    """,
)


class StorageError(LeadthermError):
    """The SQLite file cannot be used (locked for too long, disk full, unreadable)."""


class StorageVanished(StorageError):
    """The SQLite file was deleted or replaced under the running process: nothing written now would last."""


FileIdentity = tuple[int, int]  # st_dev, st_ino


def _identity(path: str) -> FileIdentity | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class Database:
    """One SQLite file; a connection per thread, created on first use."""

    def __init__(self, path: str | Path, clock: Clock = time.time) -> None:
        self.path = str(path)
        self.clock = clock
        self._local = threading.local()
        self._vanished: str | None = None  # once set, for good: only a restart opens the file again
        self._failing: str | None = None  # the last write failed (disk full, I/O error) and none succeeded since
        self._identity: FileIdentity | None = None  # not known until the first connection created the file
        try:
            self._connection().executescript(SCHEMA)  # runs in its own transaction
            self._migrate()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot create the schema in {self.path}: {exc}") from exc
        self._identity = _identity(self.path)  # the file our connections have open

    def _migrate(self) -> None:
        """Apply the migrations this file has not had, in one transaction (the lock keeps two openers apart)."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            applied = int(db.execute("PRAGMA user_version").fetchone()[0])
            for statements in MIGRATIONS[applied:]:
                for statement in filter(str.strip, statements.split(";")):
                    db.execute(statement)
            if applied < len(MIGRATIONS):  # a file of a newer version keeps its count
                db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")  # a pragma takes no parameters
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.check_identity()  # connecting to a vanished file would create an empty one
            try:
                connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open {self.path}: {exc}") from exc
            self._local.connection = connection
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken with the write lock up front.

        Checked after the commit: a file deleted or replaced meanwhile took the commit with it,
        so the caller must not acknowledge anything (one stat, about a microsecond; see the README).
        """
        self.check_identity()
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failing = f"writes to {self.path} fail: {exc}"
            raise StorageError(f"{self.path}: {exc}") from exc
        self.check_identity()
        self._failing = None

    def check_identity(self) -> None:
        """StorageVanished if the file at our path is no longer the one our connections write to."""
        if self._vanished is None and self._identity is not None and _identity(self.path) != self._identity:
            what = "deleted" if _identity(self.path) is None else "replaced by another file"
            self._vanished = (
                f"the database {self.path} was {what} while this process ran; what it wrote since is lost "
                "and nothing more is acknowledged: restart the process"
            )
        if self._vanished is not None:
            raise StorageVanished(self._vanished)

    def health(self) -> str | None:
        """Why the storage cannot be trusted right now (for /healthz), or None."""
        try:
            self.check_identity()
        except StorageVanished as exc:
            return str(exc)
        return self._failing

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        self.check_identity()
        try:
            return list(self._connection().execute(sql, params))
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc


def _database(source: str | Path | Database, clock: Clock | None) -> Database:
    if isinstance(source, Database):
        return source
    return Database(source, clock or time.time)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _placeholders(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _like(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _plain(text: str) -> bool:
    """Text SQLite's lower() and the JSON payload hold as typed (ASCII, nothing JSON escapes)."""
    return text.isascii() and '"' not in text and "\\" not in text


def _coarse_filter(query: RecordQuery) -> tuple[str, list[object]]:
    """SQL that drops most non-matching rows early; `RecordQuery.matches` decides on the rest."""
    sql, params = "", list[object]()
    text, title = query.text.strip(), query.title.strip()
    if query.temperature:
        sql += " AND json_extract(payload, '$.temperature') = ?"
        params.append(query.temperature)
    if text and _plain(text):
        sql += " AND (lower(ref) LIKE ? ESCAPE '\\' OR lower(json_extract(payload, '$.company')) LIKE ? ESCAPE '\\')"
        params += [_like(text)] * 2
    if title and _plain(title):
        sql += " AND lower(payload) LIKE ? ESCAPE '\\'"
        params.append(_like(title))
    return sql, params


Row = tuple[str, int, float]  # a whole batch of events as JSON, how many, and when it arrived


class _Waiter:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.done = threading.Event()
        self.error: StorageError | None = None


class GroupCommit:
    """Concurrent enqueues share one transaction (one fsync); each returns once its rows are durable.

    The first caller becomes the leader and commits everything pending, round after round,
    while the others wait for their round: no thread of its own, nothing acknowledged early.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._pending: list[_Waiter] = []
        self._leading = False

    def submit(self, rows: list[Row]) -> None:
        waiter = _Waiter(rows)
        with self._lock:
            self._pending.append(waiter)
            lead = not self._leading
            self._leading = self._leading or lead
        if lead:
            self._lead()
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error

    def _lead(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._leading = False
                    return
            try:
                with self.db.write() as db:
                    db.executemany(
                        "INSERT INTO inbox (events, size, enqueued_at) VALUES (?, ?, ?)",
                        [row for w in batch for row in w.rows],
                    )
            except StorageError as exc:
                for waiter in batch:
                    waiter.error = exc
            for waiter in batch:
                waiter.done.set()


class SqliteWorkQueue:
    """Durable queue coalesced by record: a lease returns all visible events of its records."""

    def __init__(self, source: str | Path | Database, clock: Clock | None = None) -> None:
        self.db = _database(source, clock)
        self._commits = GroupCommit(self.db)
        self._reclaimed_at: float | None = None  # time.monotonic() of the last look; None: not yet

    def enqueue(self, events: Sequence[ChangeEvent]) -> None:
        """Commit the batch as one compact inbox row (the acknowledgement waits for this, so keep it small).

        Leases expand inbox rows into one queue row per event, where dedup and coalescing happen.
        """
        if events:
            compact = [
                [e.event_id, str(e.ref), e.kind.value, e.occurred_at.timestamp() if e.occurred_at else None,
                 e.changed_fields, e.actor]
                for e in events
            ]  # fmt: skip
            self._commits.submit([(json.dumps(compact), len(compact), self.db.clock())])

    @staticmethod
    def _absorb(db: sqlite3.Connection) -> None:
        """Move every inbox batch into the queue, one row per event (inside the caller's transaction)."""
        batches = db.execute("SELECT id, events, enqueued_at FROM inbox ORDER BY id").fetchall()
        if not batches:
            return
        rows = []
        for _, events, enqueued_at in batches:
            for event_id, ref, kind, occurred, fields, actor in json.loads(events):
                event = {
                    "event_id": event_id,
                    "ref": ref,
                    "kind": kind,
                    "occurred_at": None if occurred is None else datetime.fromtimestamp(occurred, tz=UTC).isoformat(),
                    "changed_fields": fields,
                    "actor": actor,
                }
                # The same event id while still pending is one event (the CRM redelivered it).
                rows.append((event_id, ref, json.dumps(event), enqueued_at, enqueued_at))
        db.executemany(
            "INSERT OR IGNORE INTO queue (event_id, ref, payload, enqueued_at, visible_at) VALUES (?,?,?,?,?)", rows
        )
        db.execute("DELETE FROM inbox WHERE id <= ?", (batches[-1][0],))

    def lease(self, max_items: int, visibility_timeout: float) -> list[QueueItem]:
        now = self.db.clock()
        lease_id = new_lease_id()
        with self.db.write() as db:
            self._absorb(db)
            self._reclaim(db, now)
            refs = [
                r[0]
                for r in db.execute(
                    "SELECT ref FROM queue WHERE visible_at <= ? GROUP BY ref ORDER BY MIN(seq) LIMIT ?",
                    (now, max_items),
                )
            ]
            if not refs:
                return []
            rows = db.execute(
                f"SELECT seq, payload, attempts FROM queue WHERE visible_at <= ? AND ref IN ({_placeholders(refs)}) "
                "ORDER BY seq",
                (now, *refs),
            ).fetchall()
            db.executemany(
                "UPDATE queue SET visible_at = ?, lease_id = ?, attempts = attempts + 1 WHERE seq = ?",
                [(now + visibility_timeout, lease_id, seq) for seq, _, _ in rows],
            )
        return [
            QueueItem(ChangeEvent.from_json(json.loads(payload)), f"{seq}:{lease_id}", attempts + 1)
            for seq, payload, attempts in rows
        ]

    def _reclaim(self, db: sqlite3.Connection, now: float) -> None:
        """Make the events leased by dead processes of this host visible again (first lease, then every 10 s)."""
        if self._reclaimed_at is not None and time.monotonic() - self._reclaimed_at < RECLAIM_EVERY:
            return
        self._reclaimed_at = time.monotonic()
        held = db.execute("SELECT DISTINCT lease_id FROM queue WHERE visible_at > ? AND lease_id IS NOT NULL", (now,))
        gone = [(now, lease) for (lease,) in held if holder_is_gone(str(lease))]
        db.executemany("UPDATE queue SET visible_at = ?, lease_id = NULL WHERE lease_id = ?", gone)

    @staticmethod
    def _receipts(items: Sequence[QueueItem]) -> list[tuple[int, str]]:
        pairs = []
        for item in items:
            seq, _, lease_id = item.receipt.partition(":")
            pairs.append((int(seq), lease_id))
        return pairs

    def ack(self, items: Sequence[QueueItem]) -> None:
        with self.db.write() as db:
            self._ack(db, items)

    def release(self, items: Sequence[QueueItem], delay: float) -> None:
        with self.db.write() as db:
            self._release(db, items, delay, spent=True)

    def defer(self, items: Sequence[QueueItem], delay: float) -> None:
        with self.db.write() as db:
            self._release(db, items, delay, spent=False)

    def dead_letter(self, items: Sequence[QueueItem], reason: str) -> None:
        with self.db.write() as db:
            self._dead_letter(db, items, reason)

    def dead_letter_events(self, events: Sequence[ChangeEvent], reason: str) -> None:
        now = self.db.clock()
        with self.db.write() as db:
            db.executemany(
                "INSERT INTO dead_letters (event_id, payload, reason, failed_at, attempts) VALUES (?,?,?,?,?)",
                [(e.event_id, json.dumps(e.to_json()), reason, now, 0) for e in events],
            )

    def settle(self, batch: Settlement, state: StateStore) -> None:
        """One transaction for the whole pass when the state lives in the same file; else in a replay-safe order."""
        if not (isinstance(state, SqliteStateStore) and state.db is self.db):
            settle_in_order(self, state, batch)
            return
        with self.db.write() as db:
            if batch.audit:
                state.insert_audit(db, batch.audit)
            if batch.saved:
                state.insert_states(db, batch.saved)
            for ref in batch.forgotten:
                db.execute("DELETE FROM assessments WHERE ref = ?", (str(ref),))
            if batch.processed and batch.processed_until is not None:
                state.insert_processed(db, batch.processed, batch.processed_until)
            for name, value in batch.cursors.items():
                state.put_cursor(db, name, value)
            for items, reason in batch.dead:
                self._dead_letter(db, items, reason)
            for items, delay in batch.released:
                self._release(db, items, delay, spent=True)
            for items, delay in batch.deferred:
                self._release(db, items, delay, spent=False)
            if batch.acked:
                self._ack(db, batch.acked)

    def _ack(self, db: sqlite3.Connection, items: Sequence[QueueItem]) -> None:
        db.executemany("DELETE FROM queue WHERE seq = ? AND lease_id = ?", self._receipts(items))

    def _release(self, db: sqlite3.Connection, items: Sequence[QueueItem], delay: float, spent: bool) -> None:
        visible = self.db.clock() + delay
        # A deferral hands back the attempt its lease counted: a paused CRM must not dead-letter events.
        refund = 0 if spent else 1
        db.executemany(
            "UPDATE queue SET visible_at = ?, lease_id = NULL, attempts = MAX(0, attempts - ?) "
            "WHERE seq = ? AND lease_id = ?",
            [(visible, refund, seq, lease) for seq, lease in self._receipts(items)],
        )

    def _dead_letter(self, db: sqlite3.Connection, items: Sequence[QueueItem], reason: str) -> None:
        now = self.db.clock()
        for item, (seq, lease) in zip(items, self._receipts(items), strict=True):
            gone = db.execute("DELETE FROM queue WHERE seq = ? AND lease_id = ?", (seq, lease)).rowcount
            if gone:
                db.execute(
                    "INSERT INTO dead_letters (event_id, payload, reason, failed_at, attempts) VALUES (?,?,?,?,?)",
                    (item.event.event_id, json.dumps(item.event.to_json()), reason, now, item.attempts),
                )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self.db.read(
            "SELECT id, payload, reason, failed_at, attempts FROM dead_letters ORDER BY id LIMIT ?", (limit,)
        )
        return [
            DeadLetter(
                str(i),
                ChangeEvent.from_json(json.loads(str(payload))),
                str(reason),
                datetime.fromtimestamp(float(str(failed)), tz=UTC),
                int(str(attempts)),
            )
            for i, payload, reason, failed, attempts in rows
        ]

    def replay(self, ids: Sequence[str] | None = None) -> int:
        now = self.db.clock()
        with self.db.write() as db:
            if ids is None:
                rows = db.execute("SELECT id, event_id, payload FROM dead_letters").fetchall()
            else:
                wanted = [int(i) for i in ids if str(i).isdigit()]
                rows = db.execute(
                    f"SELECT id, event_id, payload FROM dead_letters WHERE id IN ({_placeholders(wanted)})", wanted
                ).fetchall()
            for dead_id, event_id, payload in rows:
                ref = str(ChangeEvent.from_json(json.loads(payload)).ref)
                db.execute(
                    "INSERT OR REPLACE INTO queue (event_id, ref, payload, enqueued_at, visible_at) VALUES (?,?,?,?,?)",
                    (event_id, ref, payload, now, now),
                )
                db.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
        return len(rows)

    def health(self) -> str | None:
        """The file vanished or writes fail (for /healthz), or None."""
        return self.db.health()

    def stats(self) -> QueueStats:
        """A read only (health checks poll it): inbox batches count as their size until a lease expands them."""
        depth, oldest = self.db.read(
            "SELECT (SELECT COUNT(*) FROM queue) + (SELECT COALESCE(SUM(size), 0) FROM inbox), "
            # Two-argument MIN is NULL if either side is: compare each side with the other as fallback.
            "MIN(COALESCE(q.oldest, i.oldest), COALESCE(i.oldest, q.oldest)) "
            "FROM (SELECT MIN(enqueued_at) AS oldest FROM queue) AS q, "
            "(SELECT MIN(enqueued_at) AS oldest FROM inbox) AS i"
        )[0]
        dead = self.db.read("SELECT COUNT(*) FROM dead_letters")[0][0]
        age = None if oldest is None else max(0.0, self.db.clock() - float(str(oldest)))
        return QueueStats(int(str(depth)), age, int(str(dead)))


class SqliteStateStore:
    """Last assessments, processed event ids, audit log, sweep schedule, cursors and CRM pauses."""

    def __init__(self, source: str | Path | Database, clock: Clock | None = None) -> None:
        self.db = _database(source, clock)
        self._marks_since_purge = 0

    def drafts(self) -> DraftStore:
        """The admins' drafts, in the same file."""
        from adapters.sqlite.drafts import SqliteDrafts

        return SqliteDrafts(self.db)

    def load(self, refs: Sequence[RecordRef]) -> dict[RecordRef, StoredAssessment]:
        found: dict[RecordRef, StoredAssessment] = {}
        keys = [str(r) for r in refs]
        for chunk in _chunks(keys):
            for ref, payload in self.db.read(
                f"SELECT ref, payload FROM assessments WHERE ref IN ({_placeholders(chunk)})", chunk
            ):
                found[RecordRef.parse(str(ref))] = load_assessment(str(payload))
        return found

    def save(self, ref: RecordRef, state: StoredAssessment) -> None:
        self.save_many({ref: state})

    def save_many(self, states: Mapping[RecordRef, StoredAssessment]) -> None:
        with self.db.write() as db:
            self.insert_states(db, states)

    @staticmethod
    def insert_states(db: sqlite3.Connection, states: Mapping[RecordRef, StoredAssessment]) -> None:
        """Within the caller's transaction."""
        rows = [
            (str(ref), dump_assessment(s), s.next_drop_at.timestamp() if s.next_drop_at else None)
            for ref, s in states.items()
        ]
        db.executemany("INSERT OR REPLACE INTO assessments (ref, payload, next_drop_at) VALUES (?,?,?)", rows)

    def forget(self, ref: RecordRef) -> None:
        with self.db.write() as db:
            db.execute("DELETE FROM assessments WHERE ref = ?", (str(ref),))

    def due(self, now: datetime, limit: int) -> list[RecordRef]:
        rows = self.db.read(
            "SELECT ref FROM assessments WHERE next_drop_at IS NOT NULL AND next_drop_at <= ? "
            "ORDER BY next_drop_at LIMIT ?",
            (now.timestamp(), limit),
        )
        return [RecordRef.parse(str(r[0])) for r in rows]

    def unprocessed(self, event_ids: Sequence[str]) -> set[str]:
        now = self.db.clock()
        seen: set[str] = set()
        unique = list(dict.fromkeys(event_ids))
        for chunk in _chunks(unique):
            rows = self.db.read(
                f"SELECT event_id FROM processed WHERE expires_at > ? AND event_id IN ({_placeholders(chunk)})",
                (now, *chunk),
            )
            seen.update(str(r[0]) for r in rows)
        return set(unique) - seen

    def mark_processed(self, event_ids: Sequence[str], expires_at: datetime) -> None:
        with self.db.write() as db:
            self.insert_processed(db, event_ids, expires_at)

    def insert_processed(self, db: sqlite3.Connection, event_ids: Sequence[str], expires_at: datetime) -> None:
        """Within the caller's transaction."""
        expires = expires_at.timestamp()
        db.executemany(
            "INSERT OR REPLACE INTO processed (event_id, expires_at) VALUES (?, ?)",
            [(i, expires) for i in event_ids],
        )
        self._marks_since_purge += 1
        if self._marks_since_purge >= 1000:  # purge expired ids now and then, not on every call
            db.execute("DELETE FROM processed WHERE expires_at <= ?", (self.db.clock(),))
            self._marks_since_purge = 0

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        with self.db.write() as db:
            self.insert_audit(db, entries)

    @staticmethod
    def insert_audit(db: sqlite3.Connection, entries: Sequence[AuditEntry]) -> None:
        """Within the caller's transaction."""
        db.executemany("INSERT INTO audit (ref, payload) VALUES (?, ?)", [(str(e.ref), dump_audit(e)) for e in entries])

    def audit(self, ref: RecordRef, limit: int = 50) -> list[AuditEntry]:
        rows = self.db.read("SELECT payload FROM audit WHERE ref = ? ORDER BY id DESC LIMIT ?", (str(ref), limit))
        return [load_audit(str(r[0])) for r in rows]

    def search(self, query: RecordQuery, cursor: str | None, limit: int) -> StoredPage:
        """Matching records after `cursor` in ref order, read `limit` rows at a time (never the whole table)."""
        coarse, params = _coarse_filter(query)
        found: list[tuple[RecordRef, StoredAssessment]] = []
        after = cursor or ""
        while True:
            rows = self.db.read(
                f"SELECT ref, payload FROM assessments WHERE ref > ?{coarse} ORDER BY ref LIMIT ?",
                (after, *params, limit),
            )
            for key, payload in rows:
                after = str(key)
                ref, state = RecordRef.parse(after), load_assessment(str(payload))
                if query.matches(ref, state):
                    found.append((ref, state))
                    if len(found) == limit:
                        return StoredPage(found, after)
            if len(rows) < limit:
                return StoredPage(found, None)

    def recent_audit(self, limit: int = 50) -> list[AuditEntry]:
        """The latest decisions over every record, newest first (the console's operations page)."""
        rows = self.db.read("SELECT payload FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [load_audit(str(r[0])) for r in rows]

    def get_cursor(self, name: str) -> str | None:
        rows = self.db.read("SELECT value FROM cursors WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def set_cursor(self, name: str, value: str | None) -> None:
        with self.db.write() as db:
            self.put_cursor(db, name, value)

    @staticmethod
    def put_cursor(db: sqlite3.Connection, name: str, value: str | None) -> None:
        """Within the caller's transaction."""
        if value is None:
            db.execute("DELETE FROM cursors WHERE name = ?", (name,))
        else:
            db.execute("INSERT OR REPLACE INTO cursors (name, value) VALUES (?, ?)", (name, value))

    def get_pause(self, crm: str) -> str | None:
        rows = self.db.read("SELECT record FROM pauses WHERE crm = ?", (crm,))
        return str(rows[0][0]) if rows else None

    def set_pause(self, crm: str, record: str | None) -> None:
        with self.db.write() as db:
            if record is None:
                db.execute("DELETE FROM pauses WHERE crm = ?", (crm,))
            else:
                db.execute("INSERT OR REPLACE INTO pauses (crm, record) VALUES (?, ?)", (crm, record))
