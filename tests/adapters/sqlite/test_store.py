"""The embedded SQLite backend: the shared contract, coalescing, durability, scale."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.sqlite import Database, SqliteStateStore, SqliteWorkQueue
from tests.contracts.backend_contract import Backend, BackendContract, event, ref, stored


class ShiftedClock:
    """Wall time plus an offset the test moves, shared by the backend and the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def backend(tmp_path: Path) -> Backend:
    clock = ShiftedClock()
    db = Database(tmp_path / "leadtherm.db", clock=clock)
    return SqliteWorkQueue(db), SqliteStateStore(db), clock


class TestSqliteBackend(BackendContract):
    pass


def test_fifty_events_for_one_record_come_back_in_one_lease(tmp_path: Path) -> None:
    queue = SqliteWorkQueue(tmp_path / "q.db")
    queue.enqueue([event(f"e{n}", 1) for n in range(50)] + [event("other", 2)])
    items = queue.lease(1, 30)  # one record
    assert {i.event.ref for i in items} == {ref(1)}
    assert len(items) == 50


def test_the_same_event_id_enqueued_twice_while_pending_is_one_event(tmp_path: Path) -> None:
    queue = SqliteWorkQueue(tmp_path / "q.db")
    queue.enqueue([event("e1", 1)])
    queue.enqueue([event("e1", 1)])
    assert len(queue.lease(10, 30)) == 1


def test_what_one_connection_commits_another_reads(tmp_path: Path) -> None:
    SqliteWorkQueue(tmp_path / "q.db").enqueue([event("e1", 1)])
    assert [i.event.event_id for i in SqliteWorkQueue(tmp_path / "q.db").lease(10, 30)] == ["e1"]


def test_an_enqueue_that_returned_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    child = textwrap.dedent(
        f"""
        import os, signal, sys
        from adapters.sqlite import SqliteWorkQueue
        from tests.contracts.backend_contract import event
        SqliteWorkQueue({str(path)!r}).enqueue([event(f"e{{n}}", n) for n in range(100)])
        print("queued", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -9 and "queued" in done.stdout, done.stderr
    assert len(SqliteWorkQueue(path).lease(1000, 30)) == 100


def test_due_over_a_hundred_thousand_records_returns_exactly_the_due(tmp_path: Path) -> None:
    state = SqliteStateStore(tmp_path / "s.db")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    due = {ref(n) for n in range(0, 100_000, 1000)}
    state.save_many(
        {
            ref(n): stored(drop=now - timedelta(minutes=1) if ref(n) in due else now + timedelta(days=30))
            for n in range(100_000)
        }
    )
    assert set(state.due(now, 10_000)) == due
