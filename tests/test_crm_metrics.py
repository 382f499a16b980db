"""API calls, 429s and pauses are counted per CRM, against the HubSpot sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.client import HubSpotClient
from integration.errors import RateLimited
from integration.ports import RecordRef
from integration.ports.metric_names import CRM_API_CALLS, CRM_PAUSED, CRM_PAUSES, CRM_RATE_LIMITED
from integration.ports.metrics import use_metrics
from integration.service.guard import GuardedClient
from integration.service.pause import CrmPauses
from integration.service.retry import retry_on_rate_limit
from mappings.loader import load_mapping
from webhooks.metrics_prometheus import PrometheusMetrics

TOKEN = "metrics-token"


@pytest.fixture
def sink() -> Iterator[PrometheusMetrics]:
    installed = PrometheusMetrics()
    previous = use_metrics(installed)
    yield installed
    use_metrics(previous)


def sample(sink: PrometheusMetrics, name: str, **labels: str) -> float:
    found = sink.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_every_call_and_every_429_is_counted_for_its_crm_even_the_last_one_given_up_on(
    sink: PrometheusMetrics,
) -> None:
    portal = HubSpotSandbox(access_token=TOKEN, rate_limit=(1, 60.0))
    portal.start()
    try:
        contact = portal.create_contact({"jobtitle": "CEO"})
        client = HubSpotClient(load_mapping("hubspot"), TOKEN, portal.base_url)
        # Two attempts per call, no waiting: the second call's 429 is retried once, then given up on.
        guarded = GuardedClient(client, None, partial(retry_on_rate_limit, attempts=2, sleep=lambda _: None))
        ref = RecordRef("hubspot", "contact", contact)
        guarded.fetch([ref])
        with pytest.raises(RateLimited):
            guarded.fetch([ref])
    finally:
        portal.stop()
    assert sample(sink, CRM_API_CALLS, crm="hubspot", call="fetch") == guarded.stats.calls["fetch"]
    assert sample(sink, CRM_RATE_LIMITED, crm="hubspot") == portal.count_429 >= 1


def test_a_pause_is_counted_once_and_the_paused_gauge_follows_it(sink: PrometheusMetrics) -> None:
    pauses = CrmPauses(probe_every=60.0)
    pauses.pause("hubspot", "token revoked")
    pauses.pause("hubspot", "token revoked")  # a failed probe: the same pause
    assert sample(sink, CRM_PAUSES, crm="hubspot") == 1
    assert sample(sink, CRM_PAUSED, crm="hubspot") == 1
    pauses.resume("hubspot")
    assert sample(sink, CRM_PAUSED, crm="hubspot") == 0
