"""The CDC listener: one Subscriber per topic, built from the runtime and the environment."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.plugin import connect
from adapters.salesforce.pubsub.session import SalesforceSessions
from adapters.salesforce.pubsub.subscriber import Subscriber, SubscriberGaveUp, SubscriberSettings
from adapters.salesforce.pubsub.translate import topic_of
from adapters.salesforce.related import opportunity_fields
from adapters.salesforce.settings import DEFAULT_PUBSUB_ENDPOINT
from integration.composition.runtime import Runtime
from integration.composition.settings import number_setting
from integration.errors import ConfigError, MissingSetting, Problem
from integration.service.backfill import backfill

log = logging.getLogger("leadtherm.salesforce.cdc")

CRM = "salesforce"
DEFAULT_ENDPOINT = DEFAULT_PUBSUB_ENDPOINT
Env = Mapping[str, str]


@dataclass(frozen=True)
class ListenerConfig:
    endpoint: str
    topics: tuple[str, ...]
    start_from: str
    batch_size: int
    max_lag: float
    ca_bundle: str | None
    max_stall: float = 60.0
    max_crashes: int = 5

    @classmethod
    def from_env(cls, env: Env, objects: tuple[str, ...]) -> ListenerConfig:
        """Every problem at once, each naming its variable."""
        problems: list[Problem] = []

        def number(name: str, default: float, low: float) -> float:
            return number_setting(env, name, default, low, problems)

        start = env.get("SALESFORCE_CDC_START", "LATEST").strip().upper() or "LATEST"
        if start not in ("LATEST", "EARLIEST"):
            problems.append(Problem("environment", None, "SALESFORCE_CDC_START", f"{start!r}: use LATEST or EARLIEST"))
        topics = tuple(t.strip() for t in env.get("SALESFORCE_CDC_TOPICS", "").split(",") if t.strip())
        bad = [t for t in topics if not t.startswith("/data/")]
        if bad:
            problems.append(
                Problem("environment", None, "SALESFORCE_CDC_TOPICS", f"{bad[0]!r} is not a change event channel")
            )
        batch = int(number("SALESFORCE_CDC_BATCH", 100, 1))
        lag = number("SALESFORCE_CDC_MAX_LAG", 300.0, 1)
        stall = number("SALESFORCE_CDC_MAX_STALL", 60.0, 1)
        crashes = int(number("SALESFORCE_CDC_MAX_CRASHES", 5, 1))
        ca = (
            env.get("SALESFORCE_PUBSUB_CA_BUNDLE")
            or env.get("SALESFORCE_CA_BUNDLE")
            or env.get("REQUESTS_CA_BUNDLE")
            or None
        )
        if ca and not Path(ca).is_file():
            problems.append(Problem("environment", None, "SALESFORCE_PUBSUB_CA_BUNDLE", f"{ca} is not a file"))
        if problems:
            raise ConfigError(problems)
        return cls(
            endpoint=env.get("SALESFORCE_PUBSUB_ENDPOINT", "").strip() or DEFAULT_ENDPOINT,
            topics=topics or tuple(topic_of(o) for o in objects),
            start_from=start,
            batch_size=min(batch, 1000),
            max_lag=lag,
            ca_bundle=ca,
            max_stall=stall,
            max_crashes=crashes,
        )


def open_channel(config: ListenerConfig) -> grpc.Channel:
    roots = Path(config.ca_bundle).read_bytes() if config.ca_bundle else None
    return grpc.secure_channel(
        config.endpoint,
        grpc.ssl_channel_credentials(root_certificates=roots),
        options=[("grpc.keepalive_time_ms", 60_000), ("grpc.max_receive_message_length", 16 * 1024 * 1024)],
    )


class Listener:
    """The subscribers of every configured topic, sharing one channel and one session."""

    def __init__(self, runtime: Runtime, env: Env) -> None:
        if CRM not in runtime.mappings:
            raise MissingSetting("SALESFORCE_INSTANCE_URL", "Change Data Capture needs the Salesforce CRM configured")
        mapping = runtime.mappings[CRM]
        self.runtime = runtime
        # Account scores: the Account's own changes come on its topic too (/data/AccountChangeEvent).
        company = mapping.company
        objects = (*mapping.objects, *((company.object,) if company is not None else ()))
        self.config = ListenerConfig.from_env(env, objects)
        self.channel = open_channel(self.config)
        guarded = runtime.clients.get(CRM)
        rest = guarded.unguarded() if guarded is not None else None
        if isinstance(rest, SalesforceClient):  # one session for REST and Pub/Sub, renewed for both
            self.sessions = SalesforceSessions(lambda: connect(env), rest.session(), rest.use_session)
        else:
            self.sessions = SalesforceSessions(lambda: connect(env))
        read_fields = frozenset(mapping.read_fields) - mapping.own_fields
        if company is not None:
            read_fields |= company.trigger_fields
        self.subscribers = [
            Subscriber(
                SubscriberSettings(
                    topic=topic,
                    objects=objects,
                    read_fields=read_fields,
                    opportunity_fields=opportunity_fields(mapping.read_fields),
                    batch_size=self.config.batch_size,
                    start_from=self.config.start_from,
                    max_lag=self.config.max_lag,
                    max_stall=self.config.max_stall,
                    max_crashes=self.config.max_crashes,
                ),
                self.channel,
                self.sessions,
                runtime.queue,
                runtime.state,
                self.backfill,
            )
            for topic in self.config.topics
        ]

    def backfill(self, objects: list[str]) -> None:
        """Score every record of these objects again (what lost change events would have triggered)."""
        wanted = [o for o in objects if o in self.runtime.mappings[CRM].objects]
        report = backfill(self.runtime.pipeline, CRM, wanted, self.runtime.state, self.runtime.queue)
        log.warning("CDC catch-up backfill of %s: %d record(s), %d written", ", ".join(wanted), report.records,
                    report.written)  # fmt: skip

    def run(
        self, stop: threading.Event, until: float | None = None, until_idle: bool = False, idle_after: float = 10.0
    ) -> None:
        """Every topic in its own thread until `stop` (or the deadline, or caught up with `until_idle`).

        SubscriberGaveUp once a topic's subscriber gave up: the other topics stop too, so the process
        exits and whatever runs it notices, rather than carrying on with one topic silently dead.
        """
        halt = threading.Event()  # ours: `stop` may be serve's, which must not end its workers
        failures: list[SubscriberGaveUp] = []

        def one(subscriber: Subscriber) -> None:
            try:
                subscriber.run(halt, until, until_idle, idle_after)
            except SubscriberGaveUp as exc:
                log.error("%s", exc)
                failures.append(exc)
                halt.set()

        threads = [
            threading.Thread(target=one, args=(s,), name=f"cdc{s.settings.topic}", daemon=True)
            for s in self.subscribers
        ]
        for thread in threads:
            thread.start()
        while alive := [t for t in threads if t.is_alive()]:
            if stop.is_set():
                halt.set()
            alive[0].join(0.1)
        if failures:
            raise failures[0]

    def health(self) -> str | None:
        problems = [p for p in (s.health() for s in self.subscribers) if p]
        return "; ".join(problems) or None

    def stats(self) -> dict[str, Any]:
        return {"salesforce_cdc": [s.snapshot() for s in self.subscribers]}

    def close(self) -> None:
        self.channel.close()


class CdcIntake:
    """The listener as a BackgroundIntake: what `serve` (SALESFORCE_CDC=1) and `leadtherm listen salesforce` run."""

    name = "salesforce-cdc"
    crm = "salesforce"

    def __init__(self, listener: Listener) -> None:
        self.listener = listener

    def run(self, stop: threading.Event) -> None:
        """Until `stop`; SubscriberGaveUp once a topic's subscriber gave up (health() keeps saying so)."""
        topics = ", ".join(s.settings.topic for s in self.listener.subscribers)
        log.info("listening to %s on %s", topics, self.listener.config.endpoint)
        try:
            self.listener.run(stop)
        finally:
            self.listener.close()

    def drain(self, until: float, idle_after: float) -> dict[str, int]:
        """For the scheduled function: from the stored replay ids until caught up; the channel stays open."""
        before = {s.settings.topic: s.stats.queued for s in self.listener.subscribers}
        self.listener.run(threading.Event(), until=until, until_idle=True, idle_after=idle_after)
        return {s.settings.topic: s.stats.queued - before[s.settings.topic] for s in self.listener.subscribers}

    def health(self) -> str | None:
        return self.listener.health()

    def lag_seconds(self) -> float | None:
        """The largest lag of the subscribers that know theirs."""
        lags = [s.stats.lag_seconds for s in self.listener.subscribers if s.stats.lag_seconds is not None]
        return max(lags) if lags else None

    def stats(self) -> dict[str, Any]:
        return self.listener.stats()
