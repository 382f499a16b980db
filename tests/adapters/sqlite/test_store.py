"""The embedded SQLite backend: the shared contract, coalescing, durability, scale."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.sqlite import Database, SqliteStateStore, SqliteWorkQueue
from integration.service.pause import RecordedPauses
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


def test_a_database_of_the_version_that_kept_pauses_among_the_cursors_keeps_its_pauses(tmp_path: Path) -> None:
    path = tmp_path / "leadtherm.db"
    with sqlite3.connect(path) as old:  # as versions before the pauses table left the file
        old.execute("CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        old.execute(
            "INSERT INTO cursors VALUES ('pause:salesforce', ?), ('backfill:hubspot:contact', '7001')",
            (json.dumps({"reason": "Salesforce refused the session", "since": "2026-12-01T09:30:00+00:00"}),),
        )
    state = SqliteStateStore(path)
    seen = RecordedPauses(state, ["hubspot", "salesforce"]).paused()
    assert seen == {"salesforce": "Salesforce refused the session (since 2026-12-01T09:30:00+00:00)"}
    assert state.get_cursor("pause:salesforce") is None  # moved, not copied
    assert state.get_cursor("backfill:hubspot:contact") == "7001"
    state.set_pause("salesforce", None)  # resumed; opening the file again migrates nothing back
    assert SqliteStateStore(path).get_pause("salesforce") is None


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


def _lease_in_child(path: Path, then: str) -> subprocess.Popen[str]:
    """A child process that leases every event of the file for an hour, says so, then does `then`."""
    child = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from adapters.sqlite import SqliteWorkQueue
        print(len(SqliteWorkQueue({str(path)!r}).lease(1000, 3600)), flush=True)
        {then}
        """
    )
    return subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)


def test_events_leased_by_a_process_killed_with_sigkill_come_back_at_once_not_after_the_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    SqliteWorkQueue(path).enqueue([event(f"e{n}", n) for n in range(20)])
    child = _lease_in_child(path, "os.kill(os.getpid(), signal.SIGKILL)")
    assert child.stdout is not None and child.stdout.readline().strip() == "20"
    assert child.wait(30) == -9
    again = SqliteWorkQueue(path).lease(1000, 30)
    assert sorted(i.event.event_id for i in again) == sorted(f"e{n}" for n in range(20))
    assert {i.attempts for i in again} == {2}  # the dead process's lease counted, as a receive does on SQS


def test_events_leased_by_a_running_process_stay_invisible(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    SqliteWorkQueue(path).enqueue([event(f"e{n}", n) for n in range(5)])
    child = _lease_in_child(path, "time.sleep(60)")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "5"
        assert SqliteWorkQueue(path).lease(1000, 30) == []
    finally:
        child.kill()
        child.wait(30)


def test_a_killed_child_not_yet_reaped_counts_as_gone(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    SqliteWorkQueue(path).enqueue([event("e1", 1)])
    child = _lease_in_child(path, "os.kill(os.getpid(), signal.SIGKILL)")
    assert child.stdout is not None and child.stdout.readline().strip() == "1"
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never died"
        time.sleep(0.02)
    try:
        assert [i.event.event_id for i in SqliteWorkQueue(path).lease(10, 30)] == ["e1"]
    finally:
        child.wait(30)


@pytest.mark.parametrize(
    "holder",
    [
        "another-host@pid:[4026531836]/{pid}/abc",  # another machine: its pids are not ours to look up
        "{host}@pid:[1]/{pid}/abc",  # this host, another container's PID namespace
        "0123456789abcdef0123456789abcdef",  # written before leases named their holder
    ],
)
def test_a_lease_whose_holder_cannot_be_seen_from_here_is_left_to_its_timeout(tmp_path: Path, holder: str) -> None:
    path = tmp_path / "q.db"
    queue = SqliteWorkQueue(path)
    queue.enqueue([event("e1", 1)])
    assert queue.lease(10, 3600)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease_id = holder.format(host=socket.gethostname(), pid=finished.stdout.strip())  # a pid that no longer runs
    with queue.db.write() as db:
        db.execute("UPDATE queue SET lease_id = ?", (lease_id,))
    assert SqliteWorkQueue(path).lease(10, 30) == []


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
