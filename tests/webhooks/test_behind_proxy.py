"""Behind a real TLS-terminating proxy (nginx), genuine HubSpot deliveries verify; forged forwarding does not.

The app runs on the server `serve` uses; nginx on 127.0.0.1 terminates TLS with a trustme
certificate, removes the public prefix /hooks and forwards from 127.0.0.3, the one address
the operator trusts. Direct clients connect from 127.0.0.1 and are not trusted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.hubspot.inbound import HubSpotWebhookRoute
from adapters.sqlite import SqliteWorkQueue
from harness.servers import NGINX, Proxy, free_port, nginx_in_front, serving
from webhooks.app import AppConfig, create_app
from webhooks.forwarding import ProxyPolicy, parse_public_url, parse_trusted_proxies

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make sysdeps installs it)")

SECRET = "proxy-test-secret"


def _body(event_id: int = 1) -> bytes:
    return json.dumps([
        {"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": int(time.time() * 1000),
         "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 1001,
         "propertyName": "hs_analytics_num_page_views", "propertyValue": "7", "changeSource": "CRM_UI"}
    ]).encode()  # fmt: skip


def _signed(url: str, body: bytes) -> dict[str, str]:
    """Headers exactly as HubSpot signs a delivery to `url` (the sandbox's signer)."""
    signer = HubSpotSandbox()
    signer.client_secret = SECRET
    return signer.signed_request(url, body)


class Stack:
    def __init__(self, app_url: str, proxy: Proxy, queue: SqliteWorkQueue) -> None:
        self.app_url, self.proxy, self.queue = app_url, proxy, queue

    @property
    def public(self) -> str:
        return f"{self.proxy.url}/webhooks/hubspot"

    def through_proxy(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(self.public, data=body, headers=headers, verify=str(self.proxy.ca_file), timeout=10)

    def direct(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(f"{self.app_url}/webhooks/hubspot", data=body, headers=headers, timeout=10)

    def queued(self) -> list[str]:
        return sorted(item.event.event_id for item in self.queue.lease(100, 30))


@pytest.fixture(params=["trusted-proxy", "public-url"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    queue = SqliteWorkQueue(tmp_path / "q.db")
    proxy_port = free_port()
    if request.param == "trusted-proxy":
        policy = ProxyPolicy(parse_trusted_proxies(["127.0.0.3"]))  # where nginx connects from
    else:
        policy = ProxyPolicy(public_url=parse_public_url(f"https://127.0.0.1:{proxy_port}/hooks"))
    app = create_app(AppConfig(queue, [HubSpotWebhookRoute([SECRET])], proxy=policy))
    with serving(app) as app_url, nginx_in_front(app_url.removeprefix("http://"), tmp_path, proxy_port) as proxy:
        yield Stack(app_url, proxy, queue)


def test_a_genuine_hubspot_delivery_over_https_through_the_proxy_is_accepted(stack: Stack) -> None:
    body = _body()
    answer = stack.through_proxy(body, _signed(stack.public, body))
    assert answer.status_code == 204, answer.text
    assert stack.queued() == ["hubspot:62515:1"]


def test_the_sandbox_delivers_a_real_change_through_the_proxy(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stack.proxy.ca_file))
    portal = HubSpotSandbox()
    portal.start()
    try:
        contact = portal.create_contact({"email": "p1@acme.example"})
        portal.configure_webhooks(stack.public, SECRET, batch_window=0.01)
        portal.update_contact(contact, {"hs_analytics_num_page_views": "9"})
        assert portal.flush_webhooks(10)
        assert wait_until(lambda: portal.delivered >= 1, 5)
        assert portal.failed_attempts == 0
        assert stack.queued() == [f"hubspot:{portal.portal_id}:1"]
    finally:
        portal.webhook_url = None
        portal.stop()


def test_a_forged_forwarded_prefix_from_a_direct_client_does_not_change_the_verified_url(stack: Stack) -> None:
    # Signed for another path: ProxyFix trusting any client would rebuild exactly that URL.
    body = _body(2)
    origin = stack.app_url.removeprefix("http://")
    headers = _signed(f"http://{origin}/evil/webhooks/hubspot", body) | {"X-Forwarded-Prefix": "/evil"}
    assert stack.direct(body, headers).status_code == 401
    assert stack.queued() == []


def test_a_forged_forwarded_host_and_proto_from_a_direct_client_are_not_trusted(stack: Stack) -> None:
    body = _body(3)
    headers = _signed("https://hooks.attacker.example/webhooks/hubspot", body) | {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.attacker.example",
        "Forwarded": "proto=https;host=hooks.attacker.example",
    }
    assert stack.direct(body, headers).status_code == 401
    assert stack.queued() == []
