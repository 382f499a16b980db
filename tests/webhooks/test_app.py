"""The generic webhook app: health, body limits, durable enqueue before the acknowledgement."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from adapters.sqlite import SqliteWorkQueue
from integration.errors import LeadthermError
from integration.ports import ChangeEvent, QueueItem, RecordRef, WorkQueue
from tests.webhooks.routes import EchoRoute
from webhooks.app import AppConfig, create_app
from webhooks.forwarding import ProxyPolicy, parse_public_url, parse_trusted_proxies


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


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com", "X-Forwarded-Prefix": "/p"}


def _seen_url(route: EchoRoute, queue: SqliteWorkQueue, policy: ProxyPolicy, peer: str = "127.0.0.1") -> str:
    client = create_app(AppConfig(queue, [route], proxy=policy)).test_client()
    client.post(
        "/webhooks/test?x=1",
        data="[1]",
        headers={"X-Test-Secret": "s3cret", **FORWARDED},
        environ_base={"REMOTE_ADDR": peer},
    )
    return route.seen_urls[-1]


def test_by_default_no_forwarded_header_changes_the_url_the_route_verifies(
    route: EchoRoute, queue: SqliteWorkQueue
) -> None:
    assert _seen_url(route, queue, ProxyPolicy()) == "http://localhost/webhooks/test?x=1"


def test_forwarded_headers_count_only_from_a_trusted_proxy(route: EchoRoute, queue: SqliteWorkQueue) -> None:
    policy = ProxyPolicy(parse_trusted_proxies(["10.0.0.0/8", "127.0.0.3"]))
    assert _seen_url(route, queue, policy, peer="10.1.2.3") == "https://hooks.example.com/p/webhooks/test?x=1"
    assert _seen_url(route, queue, policy, peer="127.0.0.3") == "https://hooks.example.com/p/webhooks/test?x=1"
    assert _seen_url(route, queue, policy, peer="127.0.0.1") == "http://localhost/webhooks/test?x=1"


def test_a_public_url_is_used_whatever_is_forwarded(route: EchoRoute, queue: SqliteWorkQueue) -> None:
    policy = ProxyPolicy(public_url=parse_public_url("https://hooks.example.org:8443/in/"))
    assert _seen_url(route, queue, policy, peer="10.1.2.3") == "https://hooks.example.org:8443/in/webhooks/test?x=1"


def test_healthz_is_503_with_every_reason_while_a_health_check_reports_one(
    queue: SqliteWorkQueue, route: EchoRoute
) -> None:
    paused: list[str] = []
    checks = [lambda: paused[0] if paused else None, lambda: None]
    client = create_app(AppConfig(queue, [route], health_checks=checks)).test_client()
    assert client.get("/healthz").status_code == 200
    paused.append("hubspot is paused: token revoked")
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["status"] == "degraded"
    assert answer.get_json()["reasons"] == ["hubspot is paused: token revoked"]


def test_healthz_is_503_once_the_oldest_event_has_waited_too_long(queue: SqliteWorkQueue, route: EchoRoute) -> None:
    queue.enqueue([ChangeEvent("e1", RecordRef("test", "contact", "1"))])
    patient = create_app(AppConfig(queue, [route], max_event_age=3600)).test_client()
    assert patient.get("/healthz").status_code == 200
    time.sleep(0.05)
    impatient = create_app(AppConfig(queue, [route], max_event_age=0.01)).test_client()
    answer = impatient.get("/healthz")
    assert answer.status_code == 503
    assert "oldest pending event has waited" in answer.get_json()["reasons"][0]


def test_unknown_routes_and_methods_get_a_json_reason(client: FlaskClient) -> None:
    assert client.get("/webhooks/test").status_code == 405
    missing = client.post("/nowhere")
    assert missing.status_code == 404
    assert missing.get_json()["reason"]
