"""`leadtherm serve` as an operator meets it: the installed executable in a subprocess.

A mistake is one line and exit 2, never a traceback and never a claim to be serving; a route
that could not verify anything is refused or announced at start; a flood of forged requests
is a handful of log lines and a count.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from harness.servers import LEADTHERM, NGINX, Serve, free_port, nginx_in_front
from integration.composition.plugins import load_crm
from integration.composition.routes import NoVerifiableRoute, check_verification
from integration.composition.runtime import build_runtime
from mappings.loader import load_mapping

TOKEN, SECRET = "serve-token", "serve-secret"


@pytest.fixture(scope="module")
def portal() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(access_token=TOKEN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def env(portal: HubSpotSandbox, tmp_path: Path) -> dict[str, str]:
    values = {
        "HUBSPOT_ACCESS_TOKEN": TOKEN,
        "HUBSPOT_CLIENT_SECRET": SECRET,
        "HUBSPOT_API_BASE": portal.base_url,
        "LEADTHERM_DB": str(tmp_path / "leadtherm.db"),
    }
    runtime = build_runtime(values, ["hubspot"])
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], values)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "LEADTHERM_"))}
    return {**clean, **values}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEADTHERM, "serve", *args], env=env, capture_output=True, text=True, timeout=60)


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert "serving" not in output
    assert len(output.splitlines()) == 1, output
    assert result.returncode == 2, output
    return output


def test_serve_starts_says_where_and_how_it_trusts_proxies_and_stops_on_sigterm(env: dict[str, str]) -> None:
    serve = Serve(env, "--trusted-proxy", "127.0.0.3")
    assert serve.url is not None
    assert requests.get(f"{serve.url}/healthz", timeout=5).json()["status"] == "ok"
    lines = serve.stop()
    assert serve.process.returncode == 0
    assert any("forwarded headers trusted from 127.0.0.3/32 only" in line for line in lines)
    assert lines[-1].endswith("stopped")


def test_a_second_serve_on_a_busy_port_exits_2_with_one_line_and_never_claims_to_serve(env: dict[str, str]) -> None:
    first = Serve(env)
    try:
        assert first.url is not None
        port = first.url.rsplit(":", 1)[1]
        second = _run(env, "--port", port)
        assert _one_clear_line(second) == (
            f"error: cannot listen on 127.0.0.1:{port}: the port is already in use (another serve running?); "
            "choose another --port"
        )
    finally:
        first.stop()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "-1"], "error: --port -1 is not a TCP port (0-65535"),
        (["--port", "99999"], "error: --port 99999 is not a TCP port (0-65535"),
        (["--host", "192.0.2.1"], "error: cannot listen on 192.0.2.1:8080: 192.0.2.1 is not an address"),
        (["--host", "no-such-host.invalid"], "error: --host no-such-host.invalid: not an address"),
        (["--trusted-proxy", "proxy.internal"], "error: --trusted-proxy: 'proxy.internal' is not an IP address"),
        (["--public-url", "hooks.example.com"], "error: --public-url: 'hooks.example.com' is not an http(s) URL"),
        (["--trusted-proxy", "127.0.0.1", "--public-url", "https://h.example"], "error: set either a public URL"),
        (["--max-event-age", "soon"], "error: --max-event-age: 'soon' is not an interval"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(env: dict[str, str], args: list[str], says: str) -> None:
    assert _one_clear_line(_run(env, *args)).startswith(says)


def test_serve_refuses_to_start_when_no_hubspot_delivery_could_be_verified(env: dict[str, str]) -> None:
    line = _one_clear_line(_run({**env, "HUBSPOT_CLIENT_SECRET": " , "}, "--port", "0"))
    assert line.startswith("error: hubspot: no webhook route could verify a delivery")
    assert "HUBSPOT_CLIENT_SECRET not set" in line


def test_a_salesforce_route_without_its_secret_is_announced_and_a_crm_with_none_refused() -> None:
    plugin, mapping = load_crm("salesforce"), load_mapping("salesforce")
    only_org = {"SALESFORCE_ORG_ID": "00D000000000001", "SALESFORCE_OUTBOUND_SECRET": "url-secret-0123456789"}
    warnings = check_verification({"salesforce": plugin.routes(mapping, only_org)})
    assert warnings == [("/webhooks/salesforce/flow", "SALESFORCE_CALLOUT_SECRET not set")]
    with pytest.raises(NoVerifiableRoute, match="salesforce: no webhook route could verify"):
        check_verification({"salesforce": plugin.routes(mapping, {})})


def test_a_thousand_forged_requests_write_a_handful_of_log_lines_and_one_count(env: dict[str, str]) -> None:
    serve = Serve(env)
    with requests.Session() as session:
        forged = {"X-HubSpot-Signature-v3": "x"}
        url = f"{serve.url}/webhooks/hubspot"
        codes = {session.post(url, data=b"[]", headers=forged).status_code for _ in range(1000)}
    lines = serve.stop()
    assert codes == {401}
    # The route says it once and then counts (a line a minute); the log's own bound is the backstop.
    rejected = [line for line in lines if "rejected" in line and "HubSpot webhook" in line]
    assert 1 <= len(rejected) <= 10, rejected[:20]


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make sysdeps installs it)")
@pytest.mark.parametrize("trust", ["--public-url", "--trusted-proxy"])
def test_serve_behind_nginx_accepts_a_real_change_delivered_by_hubspot_over_https(
    env: dict[str, str], portal: HubSpotSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trust: str
) -> None:
    proxy_port = free_port()
    value = f"https://127.0.0.1:{proxy_port}/hooks" if trust == "--public-url" else "127.0.0.3"
    serve = Serve(env, trust, value)
    try:
        assert serve.url is not None
        with nginx_in_front(serve.url.removeprefix("http://"), tmp_path, proxy_port) as proxy:
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy.ca_file))
            before = portal.failed_attempts
            contact = portal.create_contact({"email": "p1@acme.example", "jobtitle": "CEO"})
            portal.configure_webhooks(f"{proxy.url}/webhooks/hubspot", SECRET, batch_window=0.01)
            portal.update_contact(contact, {"hs_analytics_num_page_views": "12"})
            assert portal.flush_webhooks(10)
            assert portal.failed_attempts == before, "a delivery through the proxy was refused"
            # and the worker behind it wrote the score back
            assert wait_until(lambda: portal.contact(contact).get("leadtherm_score") is not None, 15)
    finally:
        portal.webhook_url = None
        serve.stop()
