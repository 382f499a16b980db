"""What an operator sees of a running `serve`: /metrics moving with the work, and JSON log lines.

Everything goes through the real `leadtherm serve` process, on the HubSpot sandbox, with
signed deliveries; /metrics is scraped as Prometheus would, before and after.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until
from prometheus_client.parser import text_string_to_metric_families

from harness.packaged_copy import copy_packaged
from harness.servers import Serve
from integration.ports.metric_names import (
    CONSOLE_APPLIES,
    CRM_API_CALLS,
    QUEUE_DEPTH,
    RECORDS_ASSESSED,
    RECORDS_UNCHANGED,
    RECORDS_WRITTEN,
    WEBHOOK_ACKNOWLEDGED,
    WEBHOOK_EVENTS_QUEUED,
    WEBHOOK_REJECTED,
    WEBHOOK_REQUESTS,
)
from tests.webhooks.console.conftest import SECRET as ADMIN_SECRET
from tests.webhooks.console.conftest import csrf_of
from tests.webhooks.hubspot_deliveries import deliver, portal, serve_env  # noqa: F401 - portal is a fixture

METRICS_TOKEN = "scrape-token"
EMAIL = "cto@nordlys.example"
ROUTE = "/webhooks/hubspot"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class JsonServe(Serve):
    """`serve` logging JSON: where it listens is in the message of its "serving" line."""

    def _listening(self, line: str) -> str | None:
        return super()._listening(" " + json.loads(line)["message"] if line.startswith("{") else line)


@pytest.fixture
def serving(portal: HubSpotSandbox, tmp_path: Path) -> Iterator[Serve]:  # noqa: F811 - the fixture above
    # The contact every delivery names (1001), with an address the logs must never show.
    assert portal.create_contact({"email": EMAIL, "jobtitle": "CEO", "numemployees": "100-500"}) == "1001"
    env = {**serve_env(portal, tmp_path / "leadtherm.db"), "LEADTHERM_LOG_FORMAT": "json"}
    env["LEADTHERM_METRICS_TOKEN"] = METRICS_TOKEN
    serve = JsonServe(env)
    yield serve
    serve.stop()


def scrape(base_url: str) -> Samples:
    """Every sample of /metrics, keyed by name and labels."""
    answer = requests.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: a labelled counter appears at its first increment)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def test_metrics_scraped_before_and_after_deliveries_show_events_received_acknowledged_assessed_and_written(
    serving: Serve,
) -> None:
    url = serving.url
    assert url is not None
    before = scrape(url)
    for _ in range(3):
        assert deliver(url).status_code == 204
    forged = requests.post(f"{url}{ROUTE}", data=b"[]", headers={"X-HubSpot-Signature-v3": "forged"}, timeout=10)
    assert forged.status_code == 401

    def settled(samples: Samples) -> float:
        return total(samples, RECORDS_WRITTEN, crm="hubspot") + total(samples, RECORDS_UNCHANGED, crm="hubspot")

    assert wait_until(lambda: settled(scrape(url)) > settled(before), 20, step=0.2)
    after = scrape(url)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved(WEBHOOK_REQUESTS, route=ROUTE) == 4
    assert moved(WEBHOOK_ACKNOWLEDGED, route=ROUTE) == 3
    assert moved(WEBHOOK_EVENTS_QUEUED, route=ROUTE) == 3
    assert moved(WEBHOOK_REJECTED, route=ROUTE, reason="unauthorized") == 1
    assert moved(RECORDS_ASSESSED, crm="hubspot") >= 1
    assert moved(RECORDS_WRITTEN, crm="hubspot") == 1  # the contact's first assessment is written
    assert moved(CRM_API_CALLS, crm="hubspot", call="fetch") >= 1
    assert (QUEUE_DEPTH, frozenset()) in after  # read from the queue at scrape time


def test_metrics_answer_only_a_scraper_with_the_token_when_one_is_set(serving: Serve) -> None:
    url = f"{serving.url}/metrics"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).status_code == 200


def test_metrics_hold_counts_and_names_only_never_a_record_id(serving: Serve, portal: HubSpotSandbox) -> None:  # noqa: F811
    url = serving.url
    assert url is not None
    assert deliver(url).status_code == 204
    assert wait_until(lambda: total(scrape(url), RECORDS_ASSESSED) >= 1, 20, step=0.2)
    labels = {(k, v) for _, found in scrape(url) for k, v in found if k != "le"}
    assert {k for k, _ in labels} <= {"crm", "route", "reason", "call", "intake"}
    assert not any("1001" in v or "@" in v for _, v in labels)  # the contact the delivery named


def test_with_log_format_json_every_log_line_is_one_json_object_with_ids_and_no_email(
    serving: Serve,
    portal: HubSpotSandbox,  # noqa: F811
) -> None:
    url = serving.url
    assert url is not None
    assert deliver(url).status_code == 204
    assert wait_until(lambda: total(scrape(url), RECORDS_ASSESSED) >= 1, 20, step=0.2)
    assert wait_until(lambda: any("processed" in line for line in serving.lines), 10, step=0.1)
    lines = serving.stop()
    entries = [json.loads(line) for line in lines]  # every line, or this fails
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any(entry["logger"] == "leadtherm.worker" for entry in entries)
    assert entries[-1]["message"] == "stopped"
    for line in lines:
        assert EMAIL not in line
        assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", line)


def test_a_rules_version_applied_in_the_console_mounted_on_serve_is_counted(
    portal: HubSpotSandbox,  # noqa: F811
    tmp_path: Path,
) -> None:
    folder = copy_packaged(tmp_path / "mappings")
    env = {**serve_env(portal, tmp_path / "leadtherm.db"), "LEADTHERM_MAPPINGS": str(folder)}
    env.update(LEADTHERM_ADMIN_SECRET=ADMIN_SECRET, LEADTHERM_METRICS_TOKEN=METRICS_TOKEN)
    serve = Serve(env)
    try:
        url = serve.url
        assert url is not None
        before = value(scrape(url), CONSOLE_APPLIES)
        http = requests.Session()
        token = csrf_of(http.get(f"{url}/admin/login", timeout=10).text)
        login = {"secret": ADMIN_SECRET, "csrf_token": token}
        token = csrf_of(http.post(f"{url}/admin/login", data=login, timeout=10).text)
        bands = {"cool": "20", "warm": "95", "hot": "99", "csrf_token": token}
        http.post(f"{url}/admin/rules/settings", data=bands, timeout=10)
        assert "Applied as version" in http.post(f"{url}/admin/apply", data={"csrf_token": token}, timeout=10).text
        assert value(scrape(url), CONSOLE_APPLIES) == before + 1
    finally:
        serve.stop()
