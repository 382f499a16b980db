"""The generic webhook app: health, body limits, durable enqueue before the acknowledgement."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from adapters.sqlite import SqliteWorkQueue
from integration.errors import LeadthermError
from integration.inbound import Enqueue, InboundRequest, InboundResponse
from integration.ports import ChangeEvent, QueueItem, RecordRef, WorkQueue
from webhooks.app import AppConfig, create_app


class EchoRoute:
    """A minimal adapter route: one event per JSON id, 401 without the shared header."""

    path = "/webhooks/test"

    def __init__(self) -> None:
        self.seen_urls: list[str] = []

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        self.seen_urls.append(request.url)
        if request.header("x-test-secret") != "s3cret":
            return InboundResponse(401, b"bad signature")
        try:
            ids = json.loads(request.body)
        except ValueError:
            return InboundResponse(400, b"malformed body")
        enqueue([ChangeEvent(f"evt-{i}", RecordRef("test", "contact", str(i))) for i in ids])
        return InboundResponse(204, events=len(ids))


class BrokenQueue:
    """A queue whose disk is gone."""

    def __init__(self, inner: WorkQueue) -> None:
        self.inner = inner

    def enqueue(self, events: Sequence[ChangeEvent]) -> None:
        raise LeadthermError("disk I/O error")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture
def queue(tmp_path: Path) -> SqliteWorkQueue:
    return SqliteWorkQueue(tmp_path / "q.db")


@pytest.fixture
def route() -> EchoRoute:
    return EchoRoute()


@pytest.fixture
def client(queue: SqliteWorkQueue, route: EchoRoute) -> FlaskClient:
    return create_app(AppConfig(queue, [route])).test_client()


def _leased(queue: WorkQueue) -> list[QueueItem]:
    return queue.lease(100, 30)


def test_healthz_reports_queue_depth_and_dead_letters(client: FlaskClient, queue: SqliteWorkQueue) -> None:
    queue.enqueue([ChangeEvent("e1", RecordRef("test", "contact", "1"))])
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["queue_depth"] == 1
    assert body["dead_letters"] == 0
    assert body["oldest_pending_age_seconds"] is not None


def test_a_verified_webhook_is_queued_before_it_is_acknowledged(client: FlaskClient, queue: SqliteWorkQueue) -> None:
    answer = client.post("/webhooks/test", data="[1, 2, 3]", headers={"X-Test-Secret": "s3cret"})
    assert answer.status_code == 204
    assert sorted(i.event.event_id for i in _leased(queue)) == ["evt-1", "evt-2", "evt-3"]


def test_a_bad_signature_is_refused_and_nothing_is_queued(client: FlaskClient, queue: SqliteWorkQueue) -> None:
    assert client.post("/webhooks/test", data="[1]").status_code == 401
    assert _leased(queue) == []


def test_a_body_over_one_mebibyte_gets_413_with_a_reason(client: FlaskClient, queue: SqliteWorkQueue) -> None:
    answer = client.post("/webhooks/test", data=b"[" + b"1," * 600_000 + b"1]", headers={"X-Test-Secret": "s3cret"})
    assert answer.status_code == 413
    assert "1 MiB" in answer.get_json()["reason"]
    assert _leased(queue) == []


def test_a_queue_that_cannot_persist_answers_503_so_the_crm_retries(queue: SqliteWorkQueue, route: EchoRoute) -> None:
    client = create_app(AppConfig(BrokenQueue(queue), [route])).test_client()  # type: ignore[arg-type]
    answer = client.post("/webhooks/test", data="[1]", headers={"X-Test-Secret": "s3cret"})
    assert answer.status_code == 503
    assert "retry" in answer.get_json()["reason"]


def test_behind_a_proxy_the_route_sees_the_public_url(client: FlaskClient, route: EchoRoute) -> None:
    client.post(
        "/webhooks/test",
        data="[1]",
        headers={
            "X-Test-Secret": "s3cret",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "hooks.example.com",
        },
    )
    assert route.seen_urls == ["https://hooks.example.com/webhooks/test"]


def test_unknown_routes_and_methods_get_a_json_reason(client: FlaskClient) -> None:
    assert client.get("/webhooks/test").status_code == 405
    missing = client.post("/nowhere")
    assert missing.status_code == 404
    assert missing.get_json()["reason"]
