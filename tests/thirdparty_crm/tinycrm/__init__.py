"""TinyCRM: contacts in one JSON file, changes announced by a webhook with a shared secret.

Everything leadtherm knows of this CRM is here, found through the `leadtherm.crms` entry point.
"""

from __future__ import annotations

import hmac
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from integration.composition.plugins import CalibrationSource, Env, MappedObjectTypes, SetupReport
from integration.composition.runtime import Runtime
from integration.composition.settings import Setting
from integration.errors import MissingSetting
from integration.ports import (
    ChangeEvent,
    CrmClient,
    FetchResult,
    FieldWrite,
    Page,
    RecordRef,
    WriteResult,
    WriteStatus,
)
from integration.ports.inbound import Enqueue, InboundRequest, InboundResponse, InboundRoute
from integration.ports.intake import BackgroundIntake
from mappings.schema import CrmMapping

NAME = "tinycrm"
OBJECT = "contact"
MAPPING_FILE = Path(__file__).with_name("tinycrm.yaml")  # copied into the admin's mappings folder
SETTINGS = [
    Setting("TINYCRM_STORE", "the JSON file holding TinyCRM's contacts", required=True),
    Setting("TINYCRM_SECRET", "the secret TinyCRM sends in X-Tiny-Secret with each webhook", secret=True),
]


class TinyStore:
    """{"contact": {id: {field: value}}} in one file, replaced whole on each write."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, dict[str, Any]]]:
        with self._lock:
            data: dict[str, dict[str, dict[str, Any]]] = json.loads(self.path.read_text(encoding="utf-8"))
            return data

    def update(self, record_id: str, values: Mapping[str, Any]) -> bool:
        with self._lock:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            record = data.get(OBJECT, {}).get(record_id)
            if record is None:
                return False
            record.update(values)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temporary, self.path)
            return True


class TinyClient:
    crm = NAME
    read_batch_size = 50
    write_batch_size = 50

    def __init__(self, store: TinyStore) -> None:
        self.store = store

    def fetch(self, refs: Sequence[RecordRef]) -> FetchResult:
        contacts = self.store.load().get(OBJECT, {})
        found = {ref: {"id": ref.record_id, **contacts[ref.record_id]} for ref in refs if ref.record_id in contacts}
        return FetchResult(found, frozenset(ref for ref in refs if ref not in found))

    def write(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        return [
            WriteResult(w.ref, WriteStatus.OK if self.store.update(w.ref.record_id, w.values) else WriteStatus.MISSING)
            for w in writes
        ]

    def page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        ids = sorted(self.store.load().get(object_type, {}))
        start = int(cursor or 0)
        chunk = ids[start : start + limit]
        records = self.fetch([RecordRef(NAME, object_type, i) for i in chunk]).records
        following = start + limit
        return Page(list(records.items()), str(following) if following < len(ids) else None)

    def count(self, object_type: str) -> int | None:
        return len(self.store.load().get(object_type, {}))

    def is_own_write(self, event: ChangeEvent) -> bool:
        return False  # TinyCRM announces only what people change

    def related(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        return {}

    def missing_outputs(self) -> list[str]:
        return []  # a JSON record takes any field


class TinyWebhookRoute:
    """POST /webhooks/tinycrm: a JSON list of contact ids, with the shared secret in X-Tiny-Secret."""

    path = "/webhooks/tinycrm"

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def cannot_verify(self) -> str | None:
        return None if self.secret else "TINYCRM_SECRET not set"

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        given = request.header("X-Tiny-Secret") or ""
        if not self.secret or not hmac.compare_digest(given.encode(), self.secret.encode()):
            return InboundResponse.reject(401, "bad or missing X-Tiny-Secret")
        try:
            ids = [str(i) for i in json.loads(request.body)]
        except (ValueError, TypeError):
            return InboundResponse.reject(400, "the body must be a JSON list of contact ids")
        stamp = time.time_ns()
        enqueue([ChangeEvent(f"{NAME}:{stamp}:{i}", RecordRef(NAME, OBJECT, i)) for i in ids])
        return InboundResponse(204, events=len(ids))


def _store(env: Env) -> TinyStore:
    path = env.get("TINYCRM_STORE", "")
    if not path:
        raise MissingSetting("TINYCRM_STORE", "the JSON file holding TinyCRM's contacts")
    return TinyStore(Path(path))


def _flat(record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    return OBJECT, dict(record)


class TinyPlugin:
    name = NAME
    calibration = CalibrationSource(outcome="has_won_deal")

    def settings(self) -> list[Setting]:
        return SETTINGS

    def how_to_configure(self) -> str:
        return "TINYCRM_STORE"

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        return _flat(record)

    def configured(self, env: Env) -> bool:
        return bool(env.get("TINYCRM_STORE"))

    def client(self, mapping: CrmMapping, env: Env) -> CrmClient:
        return TinyClient(_store(env))

    def rate_limit(self, env: Env) -> tuple[int, float]:
        return (1000, 1.0)

    def routes(self, mapping: MappedObjectTypes, env: Env) -> list[InboundRoute]:
        return [TinyWebhookRoute(env.get("TINYCRM_SECRET", ""))]

    def intakes(self, runtime: Runtime, env: Env) -> list[BackgroundIntake]:
        return []

    def sandbox(self) -> str | None:
        return None

    def setup(self, mapping: CrmMapping, env: Env) -> SetupReport:
        return SetupReport(unchanged=[field for field in mapping.outputs.values() if field])


plugin = TinyPlugin()
