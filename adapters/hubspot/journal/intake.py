"""The journal intake: poll from the stored offset, queue each entry's events, then commit its offset.

The offset is stored only after the entry's events are durably queued, so a crash (or kill -9)
between the two reads the entry again: its event ids repeat, the pipeline drops the duplicates,
and the diff against what HubSpot holds keeps a write from happening twice. An offset HubSpot
no longer keeps (404 after 3 days) is reported, and the contacts modified since the last
committed entry are found by CRM search and queued; reading then goes on from the newest entry.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.hubspot.endpoints import DEFAULT_API_BASE
from adapters.hubspot.journal.api import JournalApi, OffsetExpired, Pointer, UrlExpired
from adapters.hubspot.journal.catchup import ModifiedSince, catch_up_events, chunks
from adapters.hubspot.journal.events import translate
from adapters.hubspot.journal.settings import Env, JournalSettings, journal_enabled
from integration.composition.runtime import Runtime
from integration.errors import CrmWideError, LeadthermError, MissingSetting, RetriableCrmError
from integration.ports import ChangeEvent, Settlement, StateStore, WorkQueue
from integration.ports.intake import BackgroundIntake
from integration.service.pipeline import CrmBinding, _relevant

log = logging.getLogger("leadtherm.hubspot.journal")

CRM = "hubspot"
EARLIEST_MARK = "earliest"  # stored instead of an offset: read from the earliest entry HubSpot keeps
LOOKAHEAD = 8  # entries asked for ahead of the one being committed, their files downloaded meanwhile


def cursor_name(portal_id: int) -> str:
    return f"journal:hubspot:{portal_id}"


def reached_name(portal_id: int) -> str:
    """Epoch ms of the newest change in the committed entries: where a catch-up searches from."""
    return f"journal:hubspot:{portal_id}:reached"


def catchup_name(portal_id: int) -> str:
    """A catch-up begun and not finished (survives a crash in the middle of it): the ms it searches from."""
    return f"journal:hubspot:{portal_id}:catchup"


@dataclass
class JournalStats:
    entries: int = 0
    received: int = 0
    queued: int = 0
    own_writes: int = 0
    irrelevant: int = 0
    coalesced: int = 0
    malformed: int = 0
    catchups: int = 0
    caught_up_contacts: int = 0
    last_catchup: str | None = None
    errors: int = 0  # failed polls in a row
    last_error: str | None = None
    offset: str | None = None
    lag_seconds: float | None = None


class JournalIntake:
    """One account's local journal, read into the work queue; run by `serve` and `leadtherm listen hubspot`."""

    name = "hubspot-journal"
    crm = "hubspot"

    def __init__(
        self,
        settings: JournalSettings,
        api: JournalApi,
        queue: WorkQueue,
        state: StateStore,
        binding: CrmBinding,
        search: ModifiedSince,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.api = api
        self.queue = queue
        self.state = state
        self.binding = binding
        self.search = search
        self.clock = clock
        self.stats = JournalStats()
        self._lock = threading.Lock()
        self._failing_since: float | None = None
        self.cursor = cursor_name(settings.portal_id)
        self._downloads = ThreadPoolExecutor(4, thread_name_prefix="journal-download")
        self._stale_urls = 0  # downloads in a row whose URL had expired before use

    # ------------------------------------------------------------------ the loop
    def run(self, stop: threading.Event) -> None:
        """Poll until `stop`: straight on while entries come, every `poll_interval` once caught up."""
        self.read_until(stop, until=None, until_idle=False)

    def drain(self, until: float, idle_after: float) -> dict[str, int]:
        """For a scheduled function: read until caught up or `until` (time.monotonic()); events queued."""
        before = self.stats.queued
        self.read_until(threading.Event(), until=until, until_idle=True)
        return {self.name: self.stats.queued - before}

    def read_until(self, stop: threading.Event, until: float | None, until_idle: bool) -> int:
        """Entries read until `stop`, the time.monotonic() `until`, or (with `until_idle`) caught up."""
        done = 0
        backoff = 0.5
        while not stop.is_set() and (until is None or time.monotonic() < until):
            try:
                read = self.step()
            except CrmWideError as exc:  # refused credentials, daily limit: slow, loud retries
                read = -1
                self._failed(exc)
                wait = min(60.0, backoff * 8)
            except LeadthermError as exc:  # the CRM, the queue or the state store failed: back off, try again
                read = -1
                self._failed(exc)
                wait = min(60.0, backoff)
            else:
                wait = self.settings.poll_interval
                backoff = 0.5
                with self._lock:
                    self.stats.errors = 0
                    self._failing_since = None
            if read > 0:
                done += read
                continue
            if read == 0 and until_idle:
                return done
            if read < 0:
                backoff = min(60.0, backoff * 2)
                wait *= random.uniform(0.8, 1.2)
            if until is not None:
                wait = min(wait, max(0.0, until - time.monotonic()))
            if stop.wait(wait):
                break
        return done

    def step(self) -> int:
        """Read and queue the entries after the stored offset (a few at a time); how many, 0 when caught up."""
        pending = self.state.get_cursor(catchup_name(self.settings.portal_id))
        if pending:
            self._catch_up(int(pending))
            return 1
        stored = self.state.get_cursor(self.cursor)
        pointer: Pointer | None
        if stored is None:
            pointer = self.api.earliest() if self.settings.start_from == "earliest" else self.api.latest()
            if pointer is None:  # an empty journal: whatever comes next is after our start
                self.state.set_cursor(self.cursor, EARLIEST_MARK)
        elif stored == EARLIEST_MARK:
            pointer = self.api.earliest()
        else:
            try:
                pointer = self.api.next(stored)
            except OffsetExpired as exc:
                newest = self.api.latest()
                if newest is not None and newest.offset == stored:
                    pointer = None  # a 404 for "nothing after the newest entry": caught up, not lost
                else:
                    self._expired(stored, str(exc))
                    return 1
        if pointer is None:
            with self._lock:
                self.stats.lag_seconds = 0.0
            return 0
        return self._read_on(pointer)

    def _read_on(self, pointer: Pointer) -> int:
        """This entry and up to LOOKAHEAD - 1 after it: downloads overlap, commits stay in journal order."""
        pointers = [pointer]
        downloads = [self._downloads.submit(self.api.download, pointer)]
        try:
            while len(pointers) < LOOKAHEAD:
                following = self.api.next(pointers[-1].offset)
                if following is None:
                    break
                pointers.append(following)
                downloads.append(self._downloads.submit(self.api.download, following))
        except LeadthermError as exc:  # the entries found so far are still good to commit
            log.info("journal read-ahead stopped: %s", exc)
        committed = 0
        for entry, download in zip(pointers, downloads, strict=True):
            try:
                raw = download.result()
            except UrlExpired as exc:
                self._stale_urls += committed == 0
                if self._stale_urls > 1:  # again at once: a clock far off, or downloads this slow; back off
                    raise RetriableCrmError(f"{exc} again; is this host's clock right?") from exc
                log.warning("%s; asking the journal again", exc)
                break  # the offset has not moved past it: the next step gets it again with a fresh URL
            except LeadthermError:
                if committed == 0:
                    raise
                break  # what came before is committed; the next step tries this one again
            self._commit(entry, raw)
            self._stale_urls = 0
            committed += 1
        for download in downloads[committed:]:
            download.cancel()
        return max(committed, 1)  # 1 after an expired URL too: straight back, no polling pause

    def _commit(self, pointer: Pointer, raw: list[dict[str, Any]]) -> None:
        binding = self.binding
        result = translate(raw, binding.client.is_own_write, lambda e: _relevant(e, binding))
        if result.events:
            self.queue.enqueue(result.events)  # durable before the offset moves past them
        cursors: dict[str, str | None] = {self.cursor: pointer.offset}
        if result.newest_ms is not None:
            cursors[reached_name(self.settings.portal_id)] = str(result.newest_ms)
        self.queue.settle(Settlement(cursors=cursors), self.state)
        now_ms = self.clock() * 1000
        with self._lock:
            stats = self.stats
            stats.entries += 1
            stats.received += result.received
            stats.queued += len(result.events)
            stats.own_writes += result.own_writes
            stats.irrelevant += result.irrelevant
            stats.coalesced += result.coalesced
            stats.malformed += result.malformed
            stats.offset = pointer.offset
            if result.newest_ms is not None:
                stats.lag_seconds = max(0.0, (now_ms - result.newest_ms) / 1000)

    # ------------------------------------------------------------------ an expired offset
    def _expired(self, stored: str, why: str) -> None:
        reached = self.state.get_cursor(reached_name(self.settings.portal_id))
        margin_ms = int(self.settings.catchup_margin * 1000)
        # With nothing committed to go by, three days back: all the journal could have held.
        since_ms = int(reached) - margin_ms if reached else int((self.clock() - 3 * 86400) * 1000)
        when = datetime.now(UTC).isoformat(timespec="seconds")
        since = datetime.fromtimestamp(since_ms / 1000, UTC).isoformat(timespec="seconds")
        report = (
            f"{when}: HubSpot journal offset {stored} has expired or is unknown ({why}); changes since were "
            f"not read; queueing the contacts modified since {since} (CRM search) and reading on from the newest entry"
        )
        log.error("%s", report)
        with self._lock:
            self.stats.catchups += 1
            self.stats.last_catchup = report
        self.state.set_cursor(catchup_name(self.settings.portal_id), str(since_ms))
        self._catch_up(since_ms)

    def _catch_up(self, since_ms: int) -> None:
        """The newest entry first (so nothing after the search is missed), then the search, then the offset."""
        newest = self.api.latest()
        events = catch_up_events(self.search.ids(since_ms), since_ms)
        found = chunks(events, 500, self._enqueue)
        cursors: dict[str, str | None] = {
            self.cursor: newest.offset if newest is not None else EARLIEST_MARK,
            catchup_name(self.settings.portal_id): None,
        }
        self.queue.settle(Settlement(cursors=cursors), self.state)
        log.warning("HubSpot journal catch-up: %d contact(s) modified since %d queued", found, since_ms)
        with self._lock:
            self.stats.caught_up_contacts += found
            self.stats.offset = newest.offset if newest is not None else None

    def _enqueue(self, events: list[ChangeEvent]) -> None:
        self.queue.enqueue(events)

    # ------------------------------------------------------------------ health
    def _failed(self, exc: LeadthermError) -> None:
        with self._lock:
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            self._failing_since = self._failing_since or time.monotonic()
        log.warning("HubSpot journal poll failed (%d in a row): %s", self.stats.errors, exc)

    def lag_seconds(self) -> float | None:
        with self._lock:
            return self.stats.lag_seconds

    def health(self) -> str | None:
        with self._lock:
            stats = self.stats
            failing = time.monotonic() - self._failing_since if self._failing_since is not None else 0.0
            if failing > self.settings.max_lag:
                return f"HubSpot journal: polls failing for {failing:.0f} s ({stats.last_error})"
            if stats.lag_seconds is not None and stats.lag_seconds > self.settings.max_lag:
                return f"HubSpot journal: {stats.lag_seconds:.0f} s behind the newest entry"
            return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"name": self.name, **asdict(self.stats)}


def journal_intakes(runtime: Runtime, env: Env) -> list[BackgroundIntake]:
    """The HubSpot journal intake when HUBSPOT_JOURNAL=1; none otherwise."""
    if not journal_enabled(env):
        return []
    if CRM not in runtime.pipeline.crms:
        raise MissingSetting("HUBSPOT_ACCESS_TOKEN", "the webhooks journal needs the HubSpot CRM configured")
    api_base = env.get("HUBSPOT_API_BASE") or DEFAULT_API_BASE
    settings = JournalSettings.from_env(env, api_base)
    api = JournalApi(settings.client_id, settings.client_secret, settings.portal_id, api_base)
    search = ModifiedSince(env.get("HUBSPOT_ACCESS_TOKEN", ""), api_base)
    binding = runtime.pipeline.crms[CRM]
    return [JournalIntake(settings, api, runtime.queue, runtime.state, binding, search)]
