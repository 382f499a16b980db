"""A job's heavy part in a child process: the acknowledging threads never wait for the interpreter.

A thread of the console's pool is not enough on its own: Python runs one thread at a time, so
a what-if computing beside the webhook route made every acknowledgement wait for the
interpreter at each step (p99 from 6 ms to 33 ms in bench/jobs.py). So the pool's thread
only relays: it starts a child (spawned, at a lower CPU priority), hands it the history in
small pieces, and passes its progress on. The child computes, or pulls from the CRM through a
client and a bucket of its own, and hands back the result, a pulled history in pieces again
so no single step holds the server's interpreter for long.

The pieces a history arrived in are kept beside it: the next job on that history gets them as
they are, bytes the server writes to the child's pipe without pickling a single lead (the
pickling of a 10,000-lead history in the server took the interpreter from the acknowledging
threads about a fifth of a what-if's time). The child reports its progress a few times a
second at most: each report wakes a thread of the server.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import pickle
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any, Protocol

from integration.calibration.history import History, pull_history
from integration.calibration.session import Options, Outcome, run, without_history
from integration.composition.plugins import load_crm
from integration.domain.whatif import WhatIf, what_if
from integration.errors import ConfigError, LeadthermError
from integration.ports import CrmClient, Page
from integration.service.guard import GuardedClient
from integration.service.ratelimit import TokenBucket
from mappings.schema import CrmMapping, ScoringRules
from webhooks.console.compact import Packer, key_order, pack, rows

CHUNK = 50  # leads per message: each piece pickles in a fraction of a millisecond
NICENESS = 19  # the child yields the CPU to the service's threads whenever they want it
BREATHER = 0.003  # seconds the relaying thread sleeps after each piece
REPORT_EVERY = 0.25  # seconds between two progress reports of a child (the page polls twice a second)


class Reporter(Protocol):
    def __call__(self, done: int, total: int | None = None) -> None: ...

    def advance(self, n: int) -> None: ...

    def pause(self) -> None: ...


class ChildFailed(LeadthermError):
    """The child's work failed; the message is the one it raised (or says it died)."""


class Reporting(GuardedClient):
    """The client of a history pull, telling the job how many records each page brought."""

    def __init__(self, client: CrmClient, progress: Reporter) -> None:
        guarded = client if isinstance(client, GuardedClient) else GuardedClient(client)
        super().__init__(guarded.inner, guarded.bucket)
        self.progress = progress

    def page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        page = super().page(object_type, cursor, limit)
        self.progress.advance(len(page.records))
        return page


def pull(client: CrmClient, mapping: CrmMapping, outcome: str, progress: Reporter) -> History:
    """Every record of the CRM as a packed history, reporting records read of the total."""
    reporting = Reporting(client, progress)
    counts = [reporting.count(o) for o in mapping.objects]
    progress(0, None if None in counts else sum(c or 0 for c in counts))
    plugin = load_crm(mapping.crm)
    return pack(pull_history(reporting, mapping, plugin.flatten, outcome, created_field=plugin.calibration.created))


def background_bucket(crm: str, env: Mapping[str, str], share: float) -> TokenBucket:
    """The console's own bucket for a CRM: `share` of the rate the service's worker is given."""
    return TokenBucket.for_window(*load_crm(crm).rate_limit(env)).share(share)


# ---------------------------------------------------------------------------- the child's tasks


def whatif_task(
    history: History | None, progress: Reporter, current: ScoringRules, edited: ScoringRules, holdout: float, seed: int
) -> WhatIf:
    assert history is not None
    return what_if(history, current, edited, holdout, seed, progress)


def calibrate_task(
    history: History | None, progress: Reporter, current: ScoringRules, options: Options
) -> tuple[Outcome, WhatIf, str]:
    """Exactly `leadtherm calibrate`; the learned rules' what-if against the rules in force, and their scoring.yaml.

    The outcome goes back without its history (the console holds it already): a what-if history
    sent back whole would hold the service's interpreter while it is unpickled.
    """
    from integration.calibration.history import CalibrationError
    from integration.calibration.writer import scoring_yaml

    assert history is not None
    progress(0, 2)
    try:
        learned = run(history, current, options)
    except CalibrationError as exc:
        raise CalibrationError(f"Calibration failed: {exc}") from exc
    progress(1, 2)
    compared = what_if(history, current, learned.calibration.rules, options.holdout, options.seed)
    text = scoring_yaml(learned.calibration, options.seed, options.holdout) if learned.writes_rules else ""
    return without_history(learned), compared, text


def upload_task(
    history: History | None,
    progress: Reporter,
    data: bytes,
    filename: str,
    mapping: CrmMapping,
    outcome: str,
    outcome_date: str,
    date_column: str,
) -> History:
    """An uploaded export read through the mapping, as `leadtherm calibrate FILE` reads it; packed."""
    from webhooks.console.workspace import UploadError, read_uploaded_history

    progress(0, None)
    try:
        read = read_uploaded_history(data, filename, mapping, outcome, outcome_date, date_column)
    except ConfigError as exc:
        raise UploadError("; ".join(str(p) for p in exc.problems)) from exc
    progress(len(read.leads), len(read.leads))
    return pack(read)


def pull_task(
    history: History | None, progress: Reporter, mapping: CrmMapping, env: dict[str, str], outcome: str, share: float
) -> History:
    plugin = load_crm(mapping.crm)
    client = GuardedClient(plugin.client(mapping, env), background_bucket(mapping.crm, env, share))
    return pull(client, mapping, outcome, progress)


class _ToParent:
    """The child's progress, sent at most every REPORT_EVERY seconds (and whenever the total changes)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._sent = 0.0
        self._done: int | None = None  # reported by the task, not yet sent
        self._total: int | None = None
        self._advanced = 0  # records read since the last report

    def __call__(self, done: int, total: int | None = None) -> None:
        fresh_total = total is not None and total != self._total
        self._done, self._advanced = done, 0
        if total is not None:
            self._total = total
        if fresh_total or done == self._total:
            self.flush()
        else:
            self.pause()

    def advance(self, n: int) -> None:
        self._advanced += n
        self.pause()

    def pause(self) -> None:
        if time.monotonic() - self._sent >= REPORT_EVERY:
            self.flush()

    def flush(self) -> None:
        """Send what is not yet reported (at the end of the task too: the last count must arrive)."""
        if self._done is not None:
            self._conn.send(("progress", self._done, self._total))
            self._done = None
        if self._advanced:
            self._conn.send(("advance", self._advanced))
            self._advanced = 0
        self._sent = time.monotonic()


class _Wires:
    """The bytes each history arrived in from a child, by history, for as long as the history lives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[int, tuple[weakref.ref[History], bytes]] = {}

    def keep(self, history: History, wire: bytes) -> None:
        key = id(history)
        with self._lock:
            self._by_id[key] = (weakref.ref(history), wire)
        weakref.finalize(history, self._forget, key)

    def of(self, history: History) -> bytes | None:
        with self._lock:
            kept = self._by_id.get(id(history))
        return kept[1] if kept is not None and kept[0]() is history else None

    def _forget(self, key: int) -> None:
        with self._lock:
            kept = self._by_id.get(key)
            if kept is not None and kept[0]() is None:
                del self._by_id[key]


WIRES = _Wires()


def wire_size(history: History) -> int:
    """Bytes kept beside a history that came from a child (0 for any other): for the memory figures."""
    wire = WIRES.of(history)
    return 0 if wire is None else len(wire)


def _send_history(conn: Connection, history: History, breather: float) -> None:
    wire = WIRES.of(history)
    if wire is not None:
        # Written as it came: no lead is pickled here, and the write waits without the interpreter.
        conn.send(("wire",))
        conn.send_bytes(wire)
        return
    index = key_order(history)
    # Everything but the leads travels in the header: the split, the mapping and the dates go with the history.
    header = replace(history, leads=[])
    conn.send(("history", header, index))
    for start in range(0, len(history.leads), CHUNK):
        conn.send(("rows", rows(history, index, start, start + CHUNK)))
        if breather:
            time.sleep(breather)
    conn.send(("end",))


def _receive_history(messages: Callable[[], Any], header: tuple[Any, ...], breather: float) -> History:
    """A history sent by `_send_history`, its header already read, from the `messages` that follow it."""
    _, empty, index = header
    assert isinstance(empty, History)
    packer = Packer()
    while True:
        message = messages()
        if message[0] == "end":
            return replace(empty, leads=packer.leads, as_of=[packer.pool(m) for m in empty.as_of])
        packer.add_rows(index, message[1])
        if breather:
            time.sleep(breather)


def _read_wire(wire: bytes) -> History:
    """A history from the bytes it once arrived in (its messages pickled one after the other)."""
    stream = io.BytesIO(wire)

    def message() -> Any:
        return pickle.Unpickler(stream).load()

    return _receive_history(message, message(), 0.0)


def _history_from_child(conn: Connection, header: bytes, breather: float) -> History:
    """A history the child sends, kept with the bytes it came in (for the next job on it)."""
    wire = [header]

    def message() -> Any:
        data = conn.recv_bytes()
        wire.append(data)
        return pickle.loads(data)

    history = _receive_history(message, pickle.loads(header), breather)
    WIRES.keep(history, b"".join(wire))
    return history


def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux: nothing to split
        return set()


def _pin_threads(cpus: set[int]) -> None:
    """Every thread of this process on `cpus` (Linux sets a CPU affinity per thread, not per process)."""
    with contextlib.suppress(OSError):
        tids = os.listdir("/proc/self/task")
        for tid in tids:
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                os.sched_setaffinity(int(tid), cpus)


class _JobsCpu:
    """While a job's process runs, the server's own threads keep off the CPU it computes on.

    An idle-class child does give way to a thread of the server woken on its CPU, but not at
    once: perf sched on the 2-core machine showed acknowledging threads runnable behind the
    child for up to a scheduler tick (4 ms at HZ=250), often with the other CPU idle: such
    run-queue waits, not the interpreter, made the webhook tail while jobs ran (bench/jobs.py). So the server's threads
    go to the other CPUs when the first job's process starts, and back to all of them once the
    last one has ended: a server without jobs keeps every CPU it was given.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._cpus: set[int] = set()  # the server's own CPUs before the first running job

    def cpu(self) -> int | None:
        """The CPU jobs compute on: the server's last one, when it has two or more."""
        with self._lock:
            cpus = self._cpus if self._running else _affinity()
        return max(cpus) if len(cpus) > 1 else None

    @contextlib.contextmanager
    def running(self) -> Iterator[int | None]:
        """For as long as one job's process runs: the server off the jobs' CPU; yields that CPU."""
        with self._lock:
            if not self._running:
                self._cpus = _affinity()
                if len(self._cpus) > 1:
                    _pin_threads(self._cpus - {max(self._cpus)})
            self._running += 1
            cpu = max(self._cpus) if len(self._cpus) > 1 else None
        try:
            yield cpu
        finally:
            with self._lock:
                self._running -= 1
                if not self._running and len(self._cpus) > 1:
                    _pin_threads(self._cpus)


JOBS_CPU = _JobsCpu()


def lower_priority(pid: int, cpu: int | None = None) -> None:
    """Put a job's process (0: this one) below the service: Linux's idle class, on the jobs' CPU.

    The idle class: a thread of the service that wakes on the same CPU takes it from the child,
    if only within a scheduler tick here (hence _JobsCpu). Else the lowest niceness.
    `cpu` defaults to the last of the process's own.
    """
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):  # not allowed: the child runs at the same priority
            os.setpriority(os.PRIO_PROCESS, pid, NICENESS)
    # Every job's child on one CPU: with two jobs running, the others stay free for the service.
    with contextlib.suppress(AttributeError, OSError):
        if cpu is None:
            cpus = sorted(os.sched_getaffinity(pid))
            cpu = cpus[-1] if len(cpus) > 1 else None
        if cpu is not None:
            os.sched_setaffinity(pid, {cpu})


def _child(conn: Connection, task: Callable[..., Any], args: tuple[Any, ...], cpu: int | None) -> None:
    lower_priority(0, cpu)  # again, should the parent not have been allowed to
    progress = _ToParent(conn)
    try:
        data = conn.recv_bytes()
        message = pickle.loads(data)
        history = None
        if message[0] == "history":
            history = _receive_history(conn.recv, message, 0.0)
        elif message[0] == "wire":
            history = _read_wire(conn.recv_bytes())
        try:
            result = task(history, progress, *args)
        finally:
            progress.flush()
        if isinstance(result, History):
            _send_history(conn, result, 0.0)
            conn.send(("done", None))
        else:
            conn.send(("done", result))
    except LeadthermError as exc:
        conn.send(("failed", str(exc)))
    finally:
        conn.close()


def run_in_child(task: Callable[..., Any], args: tuple[Any, ...], history: History | None, progress: Reporter) -> Any:
    """`task(history, progress, *args)` in a spawned child; its result (a History comes back packed)."""
    with JOBS_CPU.running() as cpu:
        return _run_in_child(task, args, history, progress, cpu)


def _run_in_child(
    task: Callable[..., Any], args: tuple[Any, ...], history: History | None, progress: Reporter, cpu: int | None
) -> Any:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_child, args=(theirs, task, args, cpu), name="console-job", daemon=True)
    process.start()
    # Lowered by the parent at once: a spawned child imports the console, Flask and pydantic
    # before its first line runs (about a second of CPU), and at the service's priority that
    # second was taken from the acknowledgements at the start of every job.
    if process.pid is not None:
        lower_priority(process.pid, cpu)
    theirs.close()
    try:
        if history is None:
            ours.send(("none",))
        else:
            _send_history(ours, history, BREATHER)
        returned: History | None = None
        while True:
            try:
                data = ours.recv_bytes()  # waits without holding the interpreter
            except EOFError:
                raise ChildFailed("the job's process ended without an answer (out of memory?)") from None
            message = pickle.loads(data)
            kind = message[0]
            if kind == "progress":
                progress(message[1], message[2])
            elif kind == "advance":
                progress.advance(message[1])
            elif kind == "history":
                returned = _history_from_child(ours, data, BREATHER)
            elif kind == "failed":
                raise ChildFailed(message[1])
            elif kind == "done":
                return returned if returned is not None else message[1]
    finally:
        ours.close()
        process.join(5)
        if process.is_alive():
            process.kill()


__all__ = [
    "JOBS_CPU",
    "ChildFailed",
    "Reporting",
    "background_bucket",
    "calibrate_task",
    "pull",
    "pull_task",
    "run_in_child",
    "upload_task",
    "whatif_task",
    "wire_size",
]
