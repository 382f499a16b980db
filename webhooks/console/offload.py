"""A job's heavy part in a child process: the acknowledging threads never wait for the interpreter.

A thread of the console's pool is not enough on its own: Python runs one thread at a time, so
a what-if computing beside the webhook route made every acknowledgement wait for the
interpreter at each step (p99 from 6 ms to 33 ms in bench/jobs.py). So the pool's thread
only relays: it starts a child (spawned, at a lower CPU priority), hands it the history in
small pieces, and passes its progress on. The child computes, or pulls from the CRM through a
client and a bucket of its own, and hands back the result, a pulled history in pieces again
so no single step holds the server's interpreter for long.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
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
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def __call__(self, done: int, total: int | None = None) -> None:
        self._conn.send(("progress", done, total))

    def advance(self, n: int) -> None:
        self._conn.send(("advance", n))

    def pause(self) -> None:
        return None


def _send_history(conn: Connection, history: History, breather: float) -> None:
    index = key_order(history)
    # Everything but the leads travels in the header: the split, the mapping and the dates go with the history.
    header = replace(history, leads=[])
    conn.send(("history", header, index))
    for start in range(0, len(history.leads), CHUNK):
        conn.send(("rows", rows(history, index, start, start + CHUNK)))
        if breather:
            time.sleep(breather)
    conn.send(("end",))


def _receive_history(conn: Connection, header: tuple[Any, ...], breather: float) -> History:
    _, empty, index = header
    assert isinstance(empty, History)
    packer = Packer()
    while True:
        message = conn.recv()
        if message[0] == "end":
            return replace(empty, leads=packer.leads, as_of=[packer.pool(m) for m in empty.as_of])
        packer.add_rows(index, message[1])
        if breather:
            time.sleep(breather)


def _child(conn: Connection, task: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # Linux's idle class: any thread of the service that wakes takes the CPU from the child at
    # once (a merely niced child may keep it for a scheduler slice). Else the lowest niceness.
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):  # not allowed here: the child still runs, at the same priority
            os.nice(NICENESS)
    # Every job's child on one CPU (the last): with two jobs running, the others stay free for the service.
    with contextlib.suppress(AttributeError, OSError):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[-1]})
    try:
        message = conn.recv()
        history = _receive_history(conn, message, 0.0) if message[0] == "history" else None
        result = task(history, _ToParent(conn), *args)
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
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_child, args=(theirs, task, args), name="console-job", daemon=True)
    process.start()
    theirs.close()
    try:
        if history is None:
            ours.send(("none",))
        else:
            _send_history(ours, history, BREATHER)
        returned: History | None = None
        while True:
            try:
                message = ours.recv()  # waits without holding the interpreter
            except EOFError:
                raise ChildFailed("the job's process ended without an answer (out of memory?)") from None
            kind = message[0]
            if kind == "progress":
                progress(message[1], message[2])
            elif kind == "advance":
                progress.advance(message[1])
            elif kind == "history":
                returned = _receive_history(ours, message, BREATHER)
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
    "ChildFailed",
    "Reporting",
    "background_bucket",
    "calibrate_task",
    "pull",
    "pull_task",
    "run_in_child",
    "upload_task",
    "whatif_task",
]
