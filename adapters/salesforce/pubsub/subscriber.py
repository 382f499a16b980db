"""One topic's subscription: stream, decode, queue, then commit the replay id; reconnect on failure.

The replay id is stored only after the events it covers are durably queued, so a crash
(or kill -9) between the two replays those events: their ids repeat, the pipeline drops the
duplicates, and the diff against what the CRM holds keeps a write from happening twice.
"""

from __future__ import annotations

import logging
import queue as queues
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc

from adapters.salesforce.pubsub import pubsub_api_pb2 as pb2
from adapters.salesforce.pubsub import pubsub_api_pb2_grpc as pb2_grpc
from adapters.salesforce.pubsub.avro import EventDecodeError, SchemaCache, SchemaUnusable
from adapters.salesforce.pubsub.session import PubSubSession, SalesforceSessions
from adapters.salesforce.pubsub.translate import Translation, Translator
from integration.errors import LeadthermError
from integration.ports import ChangeEvent, EventKind, RecordRef, StateStore, WorkQueue
from integration.service.retry import POLICY, RetryPolicy

log = logging.getLogger("leadtherm.salesforce.cdc")

EARLIEST_MARK = "earliest"  # stored instead of a replay id: the next start replays all that is retained
_REPLAY_LOST = ("replayid.validation.failed", "replayid.corrupted")


def cursor_name(topic: str) -> str:
    return f"cdc:salesforce:{topic}"


def resync_name(topic: str) -> str:
    """Objects still to backfill after lost events: survives a crash in the middle of the backfill."""
    return f"cdc-resync:salesforce:{topic}"


@dataclass(frozen=True)
class SubscriberSettings:
    topic: str
    objects: tuple[str, ...]
    read_fields: frozenset[str]
    opportunity_fields: frozenset[str] = frozenset()  # read through conversions: an Opportunity topic's relevance
    batch_size: int = 100  # num_requested: events in flight at most
    start_from: str = "LATEST"  # with no stored replay id: LATEST or EARLIEST (a catch-up)
    retry: RetryPolicy = POLICY  # its reconnect backoff
    max_lag: float = 300.0  # seconds behind commitTimestamp before /healthz degrades
    silence_limit: float = 600.0  # Salesforce sends a keep-alive within 270 s; longer means a dead stream
    connect_grace: float = 30.0  # not connected for longer than this is unhealthy
    max_stall: float = 60.0  # events delivered but the replay id stuck for longer than this is unhealthy
    max_crashes: int = 5  # unexpected errors in a row (no progress between) before the subscriber gives up


@dataclass
class SubscriberStats:
    connected: bool = False
    lag_seconds: float | None = None
    received: int = 0
    queued: int = 0
    own_writes: int = 0
    irrelevant: int = 0
    foreign: int = 0
    gaps: int = 0
    undecodable: int = 0  # poison events, dead-lettered
    crashes: int = 0  # unexpected errors since the replay id last advanced
    gave_up: str | None = None
    stalled_since: float | None = None  # time.monotonic(): events arrived and could not be committed
    reconnects: int = 0
    session_refreshes: int = 0
    catchups: int = 0
    last_catchup: str | None = None
    last_error: str | None = None
    replay_id: str | None = None
    since: float = field(default_factory=time.monotonic)  # connection state last changed
    last_response: float | None = None


class SubscriberGaveUp(LeadthermError):
    """The subscriber crashed `max_crashes` times without progress: a person must look."""


class ReplayLost(LeadthermError):
    """The stored replay id is older than what Salesforce retains (72 hours): events were lost."""


def _error_code(exc: grpc.RpcError) -> str:
    trailers: Any = getattr(exc, "trailing_metadata", lambda: None)() or ()
    return next((str(v) for k, v in trailers if k == "error-code"), "")


def _status(exc: grpc.RpcError) -> grpc.StatusCode | None:
    code: Any = getattr(exc, "code", lambda: None)()
    return code if isinstance(code, grpc.StatusCode) else None


class Subscriber:
    def __init__(
        self,
        settings: SubscriberSettings,
        channel: grpc.Channel,
        sessions: SalesforceSessions,
        queue: WorkQueue,
        state: StateStore,
        resync: Callable[[list[str]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.stub = pb2_grpc.PubSubStub(channel)  # type: ignore[no-untyped-call]
        self.sessions = sessions
        self.queue = queue
        self.state = state
        self.resync = resync
        self.clock = clock
        self.stats = SubscriberStats()
        self._lock = threading.Lock()
        self._session: PubSubSession | None = None
        self._responded = False  # the current stream delivered at least one response
        self._waiting = False  # a response with events is being handled
        self.schemas = SchemaCache(self._get_schema)

    # ------------------------------------------------------------------ the loop
    def run(
        self, stop: threading.Event, until: float | None = None, until_idle: bool = False, idle_after: float = 10.0
    ) -> None:
        """`subscribe`, restarted with backoff after an unexpected error; SubscriberGaveUp after too many in a row."""
        failures = 0
        while True:
            try:
                self.subscribe(stop, until, until_idle, idle_after)
                return
            # The thread's last line of defence: anything else would end it silently and stop CDC for good.
            except Exception as exc:
                topic = self.settings.topic
                with self._lock:
                    self.stats.crashes += 1
                    crashes = self.stats.crashes
                    self.stats.last_error = f"crashed: {type(exc).__name__}: {exc}"
                log.error("CDC %s: the subscriber crashed (%d in a row)", topic, crashes, exc_info=True)
                if crashes >= self.settings.max_crashes:
                    why = (
                        f"Salesforce CDC {topic}: the subscriber crashed {crashes} times in a row "
                        f"({type(exc).__name__}: {exc}); restart the process once the cause is fixed"
                    )
                    with self._lock:
                        self.stats.gave_up = why
                    raise SubscriberGaveUp(why) from exc
                failures += 1
                wait = self.settings.retry.reconnect_backoff(failures)
                log.warning("CDC %s: restarting the subscriber in %.1f s", topic, wait)
                if stop.wait(wait):
                    return

    def subscribe(
        self, stop: threading.Event, until: float | None = None, until_idle: bool = False, idle_after: float = 10.0
    ) -> None:
        """Subscribe until `stop` is set, or `until` (a time.monotonic()) passes; reconnect on failures.

        With `until_idle`, also return once the stream has nothing more to deliver: a keep-alive
        arrived, or no event came for `idle_after` seconds (Salesforce's keep-alive may take 270 s).
        """
        failures = 0
        auth_failures = 0
        while not stop.is_set() and not _past(until):
            self._responded = False
            try:
                self._finish_resync()
                if self._stream(stop, until, idle_after if until_idle else None):
                    return
                if stop.is_set() or _past(until):
                    return
                self._note_error("the stream ended")
            except grpc.RpcError as exc:
                self._stalled()
                if stop.is_set() or _past(until):
                    return
                status, code = _status(exc), _error_code(exc)
                self._note_error(f"{status.name if status else 'error'} {code}".strip())
                if status is grpc.StatusCode.UNAUTHENTICATED and (auth_failures == 0 or self._responded):
                    auth_failures = 1
                    self._refresh_session()
                    continue  # straight back with the new session
                if status is grpc.StatusCode.INVALID_ARGUMENT and any(m in code for m in _REPLAY_LOST):
                    self._catch_up(code)
                    continue
                if status is grpc.StatusCode.UNAUTHENTICATED:
                    self._refresh_session()  # still failing: try again, but no faster than the backoff
            except LeadthermError as exc:  # the queue, the state store or the login failed
                self._stalled()
                self._note_error(f"{type(exc).__name__}: {exc}")
            if self._responded:  # the stream worked for a while: this is a new failure, not a repeat
                failures = 0
            failures += 1
            wait = self.settings.retry.reconnect_backoff(failures)
            with self._lock:
                self.stats.reconnects += 1
            log.warning("CDC %s: reconnecting in %.1f s (%s)", self.settings.topic, wait, self.stats.last_error)
            if stop.wait(wait):
                return

    def _stream(self, stop: threading.Event, until: float | None, idle_after: float | None) -> bool:
        """One Subscribe call; True when it ended because the stream had caught up (`idle_after` set)."""
        settings = self.settings
        session = self._current_session()
        translator = Translator(settings.objects, settings.read_fields, session.user_id, settings.opportunity_fields)
        stored = self.state.get_cursor(cursor_name(settings.topic))
        if stored and stored != EARLIEST_MARK:
            try:
                replay_id = bytes.fromhex(stored)
            except ValueError:  # not one we wrote: as good as lost
                self._catch_up("the stored replay id is not hex")
                return False
            first = pb2.FetchRequest(
                topic_name=settings.topic,
                replay_preset=pb2.ReplayPreset.CUSTOM,
                replay_id=replay_id,
                num_requested=settings.batch_size,
            )
        else:
            preset = pb2.ReplayPreset.EARLIEST if stored == EARLIEST_MARK else _preset(settings.start_from)
            first = pb2.FetchRequest(topic_name=settings.topic, replay_preset=preset, num_requested=settings.batch_size)
        requests: queues.SimpleQueue[pb2.FetchRequest | None] = queues.SimpleQueue()
        requests.put(first)
        call = self.stub.Subscribe(_drain(requests), metadata=session.metadata)
        finished = threading.Event()
        activity = [time.monotonic()]  # when the last event arrived (idle detection)
        idle = threading.Event()
        threading.Thread(
            target=_cancel_when,
            args=(call, stop, until, finished, (activity, idle_after, idle) if idle_after else None),
            name="cdc-cancel",
            daemon=True,
        ).start()
        credit = settings.batch_size
        last = stored
        self._waiting = False
        try:
            for response in call:
                self._responded = True
                self._connected(True)
                self._waiting = bool(response.events)
                last = self._handle(response, translator, last)
                self._waiting = False
                if response.events:
                    activity[0] = time.monotonic()
                credit -= len(response.events)
                if credit <= settings.batch_size // 2:
                    more = settings.batch_size - credit
                    requests.put(pb2.FetchRequest(topic_name=settings.topic, num_requested=more))
                    credit = settings.batch_size
                if idle_after and not response.events:
                    return True
        except grpc.RpcError:
            if idle.is_set() and not self._waiting:
                return True
            if stop.is_set() or _past(until):
                return False
            raise
        except BaseException:
            self._stalled()
            raise
        finally:
            finished.set()
            requests.put(None)
            call.cancel()
            self._connected(False)
        return False

    def _handle(self, response: pb2.FetchResponse, translator: Translator, last: str | None) -> str | None:
        """Queue a response's events, then store its replay id; returns the stored one."""
        now = self.clock()
        if not response.events:
            latest = response.latest_replay_id.hex()
            # Keep-alive: nothing to deliver, so this is the tip; storing it keeps a restart from
            # replaying a long stretch of other objects' events on a shared channel.
            if latest and latest != last:
                self.state.set_cursor(cursor_name(self.settings.topic), latest)
                last = latest
            with self._lock:
                self.stats.lag_seconds = 0.0
                self.stats.last_response = time.monotonic()
                self.stats.replay_id = last
            return last
        batch = Translation()
        newest_commit: int | None = None
        undecodable = 0
        for consumed in response.events:
            try:
                schema = self.schemas.get(consumed.event.schema_id)
                record = schema.decode(consumed.event.payload)
            except EventDecodeError as exc:
                undecodable += 1
                self._dead_letter(consumed.replay_id.hex(), exc)
                continue
            header = record.get("ChangeEventHeader") or {}
            changed = schema.field_names(list(header.get("changedFields") or []))
            changed += schema.field_names(list(header.get("nulledFields") or []))
            translator.add(consumed.replay_id.hex(), header, changed, batch)
            stamp = header.get("commitTimestamp")
            if isinstance(stamp, int):
                newest_commit = max(newest_commit or stamp, stamp)
        if batch.events:
            self.queue.enqueue(batch.events)  # durable before the replay id moves past them
        if batch.resync:
            self._start_resync(sorted(batch.resync), "a GAP_OVERFLOW event named no records")
        replay = str(response.events[-1].replay_id.hex())
        self.state.set_cursor(cursor_name(self.settings.topic), replay)
        with self._lock:
            stats = self.stats
            stats.received += len(response.events)
            stats.queued += len(batch.events)
            stats.own_writes += batch.own_writes
            stats.irrelevant += batch.irrelevant
            stats.foreign += batch.foreign
            stats.gaps += batch.gaps
            stats.undecodable += undecodable
            stats.replay_id = replay
            stats.last_response = time.monotonic()
            stats.stalled_since = None
            stats.crashes = 0  # progress: what crashed before was not this batch
            if newest_commit is not None:
                stats.lag_seconds = max(0.0, now - newest_commit / 1000)
        return replay

    def _dead_letter(self, replay_hex: str, exc: EventDecodeError) -> None:
        """A poison event: into the dead-letter store with its topic and replay id, so the stream moves on.

        Committed before the replay id moves past it. Which records it changed is unknown (that is in
        the payload), so the reason says how to catch them up; `dlq replay` would fetch no record.
        """
        topic = self.settings.topic
        entity = topic.removeprefix("/data/").removesuffix("ChangeEvent").removesuffix("__") or "ChangeEvent"
        event = ChangeEvent(
            f"salesforce:cdc:{replay_hex}:undecodable",
            RecordRef("salesforce", entity, f"replay-{replay_hex}"),
            EventKind.RESCORE,
        )
        reason = (
            f"Salesforce CDC event on {topic} with replay id {replay_hex} cannot be read ({exc}); "
            "the records it changed are unknown: `leadtherm backfill salesforce` re-scores every record"
        )
        self.queue.dead_letter_events([event], reason)
        log.error("CDC %s: dead-lettered event %s: %s", topic, replay_hex, exc)

    # ------------------------------------------------------------------ catch-up after lost events
    def _catch_up(self, code: str) -> None:
        topic = self.settings.topic
        stored = self.state.get_cursor(cursor_name(topic))
        when = datetime.now(UTC).isoformat(timespec="seconds")
        report = (
            f"{when}: stored replay id {stored} is no longer retained by Salesforce ({code}); "
            f"changes since were lost; backfilling {', '.join(self.settings.objects)} and replaying what is retained"
        )
        log.error("CDC %s: %s", topic, report)
        with self._lock:
            self.stats.catchups += 1
            self.stats.last_catchup = report
        # Order matters for a crash in between: first remember the backfill, then forget the
        # replay id (EARLIEST replays every retained event), then backfill what nothing replays.
        self.state.set_cursor(resync_name(topic), ",".join(self.settings.objects))
        self.state.set_cursor(cursor_name(topic), EARLIEST_MARK)
        self._finish_resync()

    def _start_resync(self, objects: list[str], why: str) -> None:
        log.warning("CDC %s: %s; backfilling %s", self.settings.topic, why, ", ".join(objects))
        self.state.set_cursor(resync_name(self.settings.topic), ",".join(objects))
        self._finish_resync()

    def _finish_resync(self) -> None:
        pending = self.state.get_cursor(resync_name(self.settings.topic))
        if pending:
            self.resync([o for o in pending.split(",") if o])
            self.state.set_cursor(resync_name(self.settings.topic), None)

    # ------------------------------------------------------------------ session and schemas
    def _current_session(self) -> PubSubSession:
        session = self.sessions.current()
        self._session = session
        return session

    def _refresh_session(self) -> None:
        self._session = self.sessions.refresh(self._session)
        with self._lock:
            self.stats.session_refreshes += 1
        log.info("CDC %s: session refreshed", self.settings.topic)

    def _get_schema(self, schema_id: str) -> str:
        session = self._session or self._current_session()
        try:
            info = self.stub.GetSchema(pb2.SchemaRequest(schema_id=schema_id), metadata=session.metadata, timeout=30)
        except grpc.RpcError as exc:
            # Salesforce does not know this id: asking again returns the same. Anything else (a blip,
            # an expired session) goes to the reconnect loop and the event is read again.
            if _status(exc) in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                status = _status(exc)
                raise SchemaUnusable(
                    f"GetSchema has no schema {schema_id} ({status.name if status else ''} {_error_code(exc)})".strip()
                ) from exc
            raise
        return str(info.schema_json)

    # ------------------------------------------------------------------ health
    def _connected(self, value: bool) -> None:
        with self._lock:
            if self.stats.connected != value:
                self.stats.connected = value
                self.stats.since = time.monotonic()
            if value:
                self.stats.last_error = None

    def _stalled(self) -> None:
        """The stream failed with events delivered and not committed: they wait, the replay id stands still."""
        if self._waiting:
            with self._lock:
                self.stats.stalled_since = self.stats.stalled_since or time.monotonic()

    def _note_error(self, text: str) -> None:
        with self._lock:
            self.stats.last_error = text

    def health(self) -> str | None:
        """None while healthy; otherwise why not, for /healthz."""
        with self._lock:
            stats, settings, now = self.stats, self.settings, time.monotonic()
            if stats.gave_up:
                return stats.gave_up
            if stats.stalled_since is not None and now - stats.stalled_since > settings.max_stall:
                return (
                    f"Salesforce CDC {settings.topic}: events wait and the replay id has not moved past "
                    f"{stats.replay_id or 'the start'} for {now - stats.stalled_since:.0f} s "
                    f"({stats.last_error or 'failing'})"
                )
            if not stats.connected and now - stats.since > settings.connect_grace:
                return f"Salesforce CDC {settings.topic}: not connected ({stats.last_error or 'connecting'})"
            if stats.connected and stats.last_response and now - stats.last_response > settings.silence_limit:
                return f"Salesforce CDC {settings.topic}: no response for {now - stats.last_response:.0f} s"
            if stats.lag_seconds is not None and stats.lag_seconds > settings.max_lag:
                return f"Salesforce CDC {settings.topic}: {stats.lag_seconds:.0f} s behind commitTimestamp"
            return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data = asdict(self.stats)
        data.pop("since")
        data.pop("stalled_since")
        data.pop("last_response")
        data["topic"] = self.settings.topic
        data["schemas"] = self.schemas.fetched
        return data


def _preset(name: str) -> pb2.ReplayPreset:
    return pb2.ReplayPreset.EARLIEST if name.upper() == "EARLIEST" else pb2.ReplayPreset.LATEST


def _past(until: float | None) -> bool:
    return until is not None and time.monotonic() >= until


def _drain(requests: queues.SimpleQueue[pb2.FetchRequest | None]) -> Iterator[pb2.FetchRequest]:
    """The request side of the stream: FetchRequests as the subscriber asks for more events."""
    while True:
        request = requests.get()
        if request is None:
            return
        yield request


def _cancel_when(
    call: Any,
    stop: threading.Event,
    until: float | None,
    finished: threading.Event,
    idle: tuple[list[float], float, threading.Event] | None,
) -> None:
    """Cancel the stream when asked to stop, at the deadline (a Lambda's budget) or once idle."""
    while not finished.wait(0.05):
        if idle is not None and time.monotonic() - idle[0][0] > idle[1]:
            idle[2].set()
            call.cancel()
            return
        if stop.is_set() or _past(until):
            call.cancel()
            return
