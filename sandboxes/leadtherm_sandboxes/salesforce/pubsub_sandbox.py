"""A local emulator of Salesforce's Pub/Sub API (gRPC over TLS) publishing Change Data Capture events.

It watches a `SalesforceSandbox` and publishes the change event Salesforce would for every
create, update, delete and undelete of a Lead, Contact or Account: Avro payloads with a
`ChangeEventHeader` (changedFields/nulledFields as bitmaps over the schema's fields, as the
Pub/Sub API sends them), schemas served by `GetSchema` under a fingerprint id that changes
when a field is added. `Subscribe` honours LATEST/EARLIEST/CUSTOM replay, `num_requested`
flow control and answers an empty keep-alive with the latest replay id; a replay id older than
the retained events is refused as Salesforce does (INVALID_ARGUMENT, trailer `error-code`), and
so is an expired session (UNAUTHENTICATED). Gap and overflow events come on demand, and so do
poison events (`publish_poison`: a schema id GetSchema does not know, a schema that is not JSON,
a payload that does not decode, a header that is not a record).
TLS uses the org sandbox's trustme CA.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import fastavro
import grpc

from adapters.salesforce.pubsub import pubsub_api_pb2 as pb2
from adapters.salesforce.pubsub import pubsub_api_pb2_grpc as pb2_grpc
from adapters.salesforce.pubsub.translate import topic_of
from leadtherm_sandboxes.salesforce.sandbox import STANDARD, SalesforceSandbox

ENTITIES = ("Lead", "Contact", "Account")
ALL_CHANGES = "/data/ChangeEvents"
CHANGE_TYPES = ["CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE",
                "GAP_UNDELETE", "GAP_OVERFLOW"]  # fmt: skip
REPLAY_INVALID = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
_AVRO_OF_KIND = {"int": "int", "currency": "double", "double": "double", "boolean": "boolean", "date": "int",
                 "datetime": "long"}  # fmt: skip
_AVRO_OF_CUSTOM = {"Number": "double", "Checkbox": "boolean", "DateTime": "long"}
_HEADER = {
    "type": "record", "name": "ChangeEventHeader", "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "namespace": "com.sforce.eventbus",
                                        "symbols": CHANGE_TYPES}},
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
        {"name": "diffFields", "type": {"type": "array", "items": "string"}},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}  # fmt: skip


@dataclass(frozen=True)
class Published:
    replay: int
    entity: str
    schema_id: str
    payload: bytes
    event_id: str
    published_at: float  # time.monotonic()


@dataclass(frozen=True)
class _Schema:
    schema_id: str
    text: str
    parsed: Any
    fields: tuple[str, ...]


def _coerce(value: Any, kind: str) -> Any:
    """A sandbox record value -> what the Avro type holds (None when it does not fit)."""
    if value is None:
        return None
    try:
        if kind == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
        if kind == "int" and isinstance(value, str) and len(value) == 10 and value[4] == "-":
            return (date.fromisoformat(value) - date(1970, 1, 1)).days  # a Date: days since the epoch
        if kind == "long" and isinstance(value, str):
            moment = datetime.strptime(value.replace("+0000", "+00:00"), "%Y-%m-%dT%H:%M:%S.%f%z")
            return int(moment.timestamp() * 1000)  # a DateTime: epoch milliseconds
        if kind in ("int", "long"):
            return int(value)
        if kind == "double":
            return float(value)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, list | dict) else str(value)


def _bitmap(positions: list[int]) -> list[str]:
    """Field positions -> the Pub/Sub API's hex bitmap list (empty when nothing is set)."""
    if not positions:
        return []
    value = sum(1 << p for p in positions)
    return [f"0x{value:0{max(2, (value.bit_length() + 7) // 8 * 2)}X}"]


class PubSubSandbox:
    """The gRPC endpoint, attached to one org sandbox; `start()` returns "127.0.0.1:PORT"."""

    def __init__(
        self, org: SalesforceSandbox, keepalive: float = 0.5, max_batch: int = 100, retention: float = 72 * 3600.0
    ) -> None:
        self.org = org
        self.retention = retention  # seconds an event stays replayable
        self.keepalive = keepalive  # Salesforce: within 270 s; short here so tests see them
        self.max_batch = max_batch
        self.cond = threading.Condition()
        self.log: list[Published] = []
        self.pruned_through = 0  # replay ids at or below this fell out of retention
        self._replays = itertools.count(1_000)
        self._commits = itertools.count(1)
        self._schemas: dict[str, _Schema] = {}
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._deleted: set[str] = set()
        self.subscribes = 0
        self.schema_requests = 0
        self.delivered = 0
        self.schema_outage = False  # a knob: GetSchema answers UNAVAILABLE while set
        self._break_streams = 0  # generation: streams opened before it are cut
        self._server: grpc.Server | None = None
        self.port = 0
        for entity in ENTITIES:
            for record_id, record in org.objects[entity].items():
                self._snapshots[record_id] = dict(record)
        org.observers.append(self._observe)

    # ------------------------------------------------------------------ lifecycle
    def start(self, port: int = 0) -> str:
        key = self.org.ca.issue_cert("127.0.0.1", "localhost")
        credentials = grpc.ssl_server_credentials(
            [(key.private_key_pem.bytes(), b"".join(blob.bytes() for blob in key.cert_chain_pems))]
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="pubsub-sandbox"))
        pb2_grpc.add_PubSubServicer_to_server(_Servicer(self), self._server)  # type: ignore[no-untyped-call]
        self.port = self._server.add_secure_port(f"127.0.0.1:{port}", credentials)
        self._server.start()
        return self.target

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        with self.cond:
            self._break_streams += 1
            self.cond.notify_all()
        if self._server is not None:
            self._server.stop(grace=0.5).wait()

    # ------------------------------------------------------------------ knobs
    def expire_all(self) -> None:
        """Retention passed for every event published so far (as after 72 hours of downtime)."""
        with self.cond:
            if self.log:
                self.pruned_through = self.log[-1].replay
            self.log.clear()

    def cut_streams(self) -> None:
        """Drop every open Subscribe stream (UNAVAILABLE), as a network blip or a server restart does."""
        with self.cond:
            self._break_streams += 1
            self.cond.notify_all()

    def publish_gap(self, entity: str, record_ids: list[str], change_type: str = "GAP_UPDATE") -> None:
        """A gap event (no field values: the subscriber must re-fetch), or GAP_OVERFLOW with no ids."""
        self._publish(entity, change_type, record_ids, {}, [], [], self.org.integration_user_id)

    def publish_poison(self, kind: str, entity: str = "Lead") -> int:
        """An event no subscriber can read; returns its replay id.

        `unknown-schema`: GetSchema answers NOT_FOUND; `bad-schema`: the schema is not JSON;
        `bad-payload`: the payload is cut short; `bad-header`: ChangeEventHeader is a string.
        """
        poison_id = f"poison-{kind}-{uuid.uuid4().hex[:8]}"
        with self.cond:
            payload = b""
            schema_id = poison_id
            if kind == "bad-schema":
                self._schemas[poison_id] = _Schema(poison_id, '{"type": "record", "fields": [', None, ())
            elif kind == "bad-payload":
                schema_id = self._schema(entity, {}).schema_id
            elif kind == "bad-header":
                raw = {"type": "record", "name": f"{entity}ChangeEvent", "namespace": "com.sforce.eventbus",
                       "fields": [{"name": "ChangeEventHeader", "type": "string"}]}  # fmt: skip
                text = json.dumps(raw)
                parsed = fastavro.parse_schema(raw)
                self._schemas[poison_id] = _Schema(poison_id, text, parsed, ("ChangeEventHeader",))
                out = io.BytesIO()
                fastavro.schemaless_writer(out, parsed, {"ChangeEventHeader": "not a header"})
                payload = out.getvalue()
            elif kind != "unknown-schema":
                raise ValueError(f"no poison called {kind!r}")
            replay = next(self._replays)
            self.log.append(Published(replay, entity, schema_id, payload, str(uuid.uuid4()), time.monotonic()))
            self.cond.notify_all()
        return replay

    def undelete(self, entity: str, record: dict[str, Any]) -> None:
        """Restore a deleted record from the Recycle Bin (the org sandbox has no undelete of its own)."""
        with self.org.lock:
            self.org.objects[entity][str(record["Id"])] = dict(record)
            self._observe(entity, str(record["Id"]), self.org.objects[entity][str(record["Id"])])

    def latest_replay(self) -> bytes:
        with self.cond:
            return self._replay_bytes(self.log[-1].replay if self.log else self.pruned_through)

    # ------------------------------------------------------------------ publishing
    def _observe(self, entity: str, record_id: str, record: dict[str, Any] | None) -> None:
        """Called by the org sandbox (under its lock) after each change it makes."""
        if entity not in ENTITIES:
            return
        before = self._snapshots.get(record_id)
        if record is None:
            self._snapshots.pop(record_id, None)
            self._deleted.add(record_id)
            user = (before or {}).get("LastModifiedById") or "0055g00000PersonAAA"
            self._publish(entity, "DELETE", [record_id], {}, [], [], str(user))
            return
        after = dict(record)
        self._snapshots[record_id] = after
        user = str(after.get("LastModifiedById") or self.org.integration_user_id)
        if before is None:
            kind = "UNDELETE" if record_id in self._deleted else "CREATE"
            self._deleted.discard(record_id)
            values = {k: v for k, v in after.items() if v is not None}
            self._publish(entity, kind, [record_id], values, [], [], user)
            return
        changed = [k for k, v in after.items() if before.get(k) != v]
        if not changed:
            return
        nulled = [k for k in changed if after[k] is None]
        self._publish(entity, "UPDATE", [record_id], {k: after[k] for k in changed}, changed, nulled, user)

    def _schema(self, entity: str, values: dict[str, Any]) -> _Schema:
        kinds: dict[str, str] = {}
        for name, kind in STANDARD[entity].items():
            kinds[name] = _AVRO_OF_KIND.get(kind, "string")
        for full, meta in self.org.custom_fields.items():
            owner, _, name = full.partition(".")
            if owner == entity:
                kinds[name] = _AVRO_OF_CUSTOM.get(str(meta.get("type")), "string")
        for name, value in values.items():  # fields a test set directly on the org
            if name not in kinds:
                kinds[name] = "boolean" if isinstance(value, bool) else "string"
        raw = {
            "type": "record", "name": f"{entity}ChangeEvent", "namespace": "com.sforce.eventbus",
            "fields": [{"name": "ChangeEventHeader", "type": _HEADER},
                       *({"name": n, "type": ["null", k], "default": None} for n, k in kinds.items())],
        }  # fmt: skip
        text = json.dumps(raw, separators=(",", ":"))
        schema_id = base64.urlsafe_b64encode(hashlib.md5(text.encode()).digest()).decode().rstrip("=")
        found = self._schemas.get(schema_id)
        if found is None:
            found = _Schema(schema_id, text, fastavro.parse_schema(json.loads(text)), ("ChangeEventHeader", *kinds))
            self._schemas[schema_id] = found
        return found

    def _publish(
        self,
        entity: str,
        change_type: str,
        record_ids: list[str],
        values: dict[str, Any],
        changed: list[str],
        nulled: list[str],
        user: str,
    ) -> None:
        with self.cond:
            schema = self._schema(entity, values)
            positions = {name: i for i, name in enumerate(schema.fields)}
            kinds = {f["name"]: f["type"] for f in json.loads(schema.text)["fields"][1:]}
            body: dict[str, Any] = {name: _coerce(values.get(name), kinds[name][1]) for name in schema.fields[1:]}
            body["ChangeEventHeader"] = {
                "entityName": entity, "recordIds": record_ids, "changeType": change_type,
                "changeOrigin": "com/salesforce/api/rest/59.0", "transactionKey": str(uuid.uuid4()),
                "sequenceNumber": 1, "commitTimestamp": int(time.time() * 1000), "commitNumber": next(self._commits),
                "commitUser": user, "nulledFields": _bitmap([positions[n] for n in nulled if n in positions]),
                "diffFields": [], "changedFields": _bitmap([positions[n] for n in changed if n in positions]),
            }  # fmt: skip
            out = io.BytesIO()
            fastavro.schemaless_writer(out, schema.parsed, body)
            replay, now = next(self._replays), time.monotonic()
            self.log.append(Published(replay, entity, schema.schema_id, out.getvalue(), str(uuid.uuid4()), now))
            self.cond.notify_all()

    # ------------------------------------------------------------------ serving helpers
    @staticmethod
    def _replay_bytes(replay: int) -> bytes:
        return replay.to_bytes(8, "big")

    def check_auth(self, context: grpc.ServicerContext) -> None:
        headers = {k: v for k, v in context.invocation_metadata()}
        token, tenant = headers.get("accesstoken", ""), headers.get("tenantid", "")
        with self.org.lock:
            valid = token in self.org.sessions
        if not valid or tenant[:15] != self.org.org_id[:15] or not headers.get("instanceurl"):
            context.set_trailing_metadata((("error-code", AUTH_ERROR),))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "authentication failed: session expired or invalid")

    def entities_of(self, topic: str, context: grpc.ServicerContext) -> tuple[str, ...]:
        if topic == ALL_CHANGES:
            return ENTITIES
        for entity in ENTITIES:
            if topic == topic_of(entity):
                return (entity,)
        context.set_trailing_metadata((("error-code", "sfdc.platform.eventbus.grpc.topic.not.found"),))
        context.abort(grpc.StatusCode.NOT_FOUND, f"topic {topic} not found")
        raise AssertionError("abort raises")

    def schema_text(self, schema_id: str) -> str | None:
        with self.cond:
            found = self._schemas.get(schema_id)
            self.schema_requests += 1
            return found.text if found else None

    def _prune(self) -> None:
        """Drop what is older than the retention (call with `cond` held)."""
        horizon = time.monotonic() - self.retention
        expired = 0
        while expired < len(self.log) and self.log[expired].published_at < horizon:
            expired += 1
        if expired:
            self.pruned_through = self.log[expired - 1].replay
            del self.log[:expired]

    def start_position(self, request: pb2.FetchRequest, context: grpc.ServicerContext) -> int:
        """The replay id after which delivery starts."""
        with self.cond:
            self._prune()
            tip = self.log[-1].replay if self.log else self.pruned_through
            if request.replay_preset == pb2.ReplayPreset.EARLIEST:
                return self.pruned_through
            if request.replay_preset != pb2.ReplayPreset.CUSTOM:
                return tip
            replay = int.from_bytes(request.replay_id, "big") if len(request.replay_id) == 8 else -1
            if replay < self.pruned_through or replay > tip:
                context.set_trailing_metadata((("error-code", REPLAY_INVALID),))
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "The Replay ID validation failed: it is no longer retained or was never issued",
                )
            return replay

    def subscribe(
        self, requests: Iterator[pb2.FetchRequest], context: grpc.ServicerContext
    ) -> Iterator[pb2.FetchResponse]:
        self.check_auth(context)
        first = next(requests, None)
        if first is None:
            return
        entities = self.entities_of(first.topic_name, context)
        position = self.start_position(first, context)
        with self.cond:
            self.subscribes += 1
            generation = self._break_streams
            credit = max(0, first.num_requested)
        state = {"credit": credit, "open": True}

        def read_more() -> None:
            try:
                for more in requests:
                    with self.cond:
                        state["credit"] += max(0, more.num_requested)
                        self.cond.notify_all()
            except grpc.RpcError:
                pass  # the client went away
            with self.cond:
                state["open"] = False
                self.cond.notify_all()

        threading.Thread(target=read_more, name="pubsub-sandbox-reader", daemon=True).start()
        while context.is_active():
            with self.cond:
                deadline = time.monotonic() + self.keepalive
                while True:
                    if self._break_streams != generation:
                        context.abort(grpc.StatusCode.UNAVAILABLE, "stream reset by the server")
                    ready = [e for e in self._after(position) if e.entity in entities]
                    if (ready and state["credit"] > 0) or time.monotonic() >= deadline or not state["open"]:
                        break
                    self.cond.wait(max(0.0, deadline - time.monotonic()))
                if not state["open"] and not ready:
                    return
                batch = ready[: min(int(state["credit"]), self.max_batch)] if state["credit"] > 0 else []
                state["credit"] -= len(batch)
                if batch:
                    position = batch[-1].replay
                elif not ready:
                    position = self.log[-1].replay if self.log else position  # caught up: skip other topics
                self.delivered += len(batch)
                pending = int(state["credit"])
            with self.org.lock:
                expired = self._session_gone(context)
            if expired:
                context.set_trailing_metadata((("error-code", AUTH_ERROR),))
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "authentication failed: session expired")
            yield pb2.FetchResponse(
                events=[
                    pb2.ConsumerEvent(
                        event=pb2.ProducerEvent(id=e.event_id, schema_id=e.schema_id, payload=e.payload),
                        replay_id=self._replay_bytes(e.replay),
                    )
                    for e in batch
                ],
                latest_replay_id=self._replay_bytes(position),
                rpc_id=str(uuid.uuid4()),
                pending_num_requested=pending,
            )

    def _session_gone(self, context: grpc.ServicerContext) -> bool:
        token = dict(context.invocation_metadata()).get("accesstoken", "")
        return token not in self.org.sessions

    def _after(self, position: int) -> list[Published]:
        # The log is append-only and sorted by replay id: bisect would do, a scan from the end is enough here.
        index = len(self.log)
        while index > 0 and self.log[index - 1].replay > position:
            index -= 1
        return self.log[index:]


class _Servicer(pb2_grpc.PubSubServicer):
    def __init__(self, sandbox: PubSubSandbox) -> None:
        self.sandbox = sandbox

    def GetTopic(self, request: pb2.TopicRequest, context: grpc.ServicerContext) -> pb2.TopicInfo:
        sandbox = self.sandbox
        sandbox.check_auth(context)
        entities = sandbox.entities_of(request.topic_name, context)
        with sandbox.cond:
            schema_id = sandbox._schema(entities[0], {}).schema_id if len(entities) == 1 else ""
        return pb2.TopicInfo(
            topic_name=request.topic_name,
            tenant_guid=sandbox.org.org_id,
            can_publish=False,
            can_subscribe=True,
            schema_id=schema_id,
            rpc_id=str(uuid.uuid4()),
        )

    def GetSchema(self, request: pb2.SchemaRequest, context: grpc.ServicerContext) -> pb2.SchemaInfo:
        self.sandbox.check_auth(context)
        if self.sandbox.schema_outage:
            context.abort(grpc.StatusCode.UNAVAILABLE, "GetSchema is unavailable (the sandbox's outage knob)")
        text = self.sandbox.schema_text(request.schema_id)
        if text is None:
            context.set_trailing_metadata((("error-code", "sfdc.platform.eventbus.grpc.schema.not.found"),))
            context.abort(grpc.StatusCode.NOT_FOUND, f"schema {request.schema_id} not found")
        return pb2.SchemaInfo(schema_json=text, schema_id=request.schema_id, rpc_id=str(uuid.uuid4()))

    def Subscribe(
        self, request_iterator: Iterator[pb2.FetchRequest], context: grpc.ServicerContext
    ) -> Iterator[pb2.FetchResponse]:
        return self.sandbox.subscribe(request_iterator, context)
