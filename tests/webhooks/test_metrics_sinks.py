"""The metrics sinks keep to the declared names, and each Prometheus sink has its own registry."""

from __future__ import annotations

import io
import json

import pytest

from integration.ports.metric_names import DECLARED, RECORDS_WRITTEN, WEBHOOK_REQUESTS, Kind
from integration.ports.metrics import NoMetrics, metrics, use_metrics
from webhooks.metrics_emf import EmfMetrics, invocation
from webhooks.metrics_prometheus import PrometheusMetrics, UnknownMetric


def test_two_prometheus_sinks_in_one_process_count_apart() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.count(RECORDS_WRITTEN, 2, crm="hubspot")
    assert b'leadtherm_records_written_total{crm="hubspot"} 2.0' in first.exposition()
    assert b'crm="hubspot"' not in second.exposition()


def test_a_name_not_declared_is_refused_by_the_prometheus_sink() -> None:
    with pytest.raises(UnknownMetric, match=r"metric_names\.py"):
        PrometheusMetrics().count("leadtherm_records_scored_total", crm="hubspot")


def test_every_declared_name_is_prometheus_style_and_counters_end_in_total() -> None:
    for declared in DECLARED.values():
        assert declared.name.startswith("leadtherm_")
        assert declared.name.endswith("_total") == (declared.kind is Kind.COUNTER), declared.name
        assert declared.unit in {"Count", "Seconds", "None"}


def test_an_invocation_installs_its_emf_sink_and_puts_the_previous_one_back() -> None:
    out = io.StringIO()
    before = metrics()
    with invocation("http", out) as sink:
        assert metrics() is sink
        metrics().count(WEBHOOK_REQUESTS, route="/webhooks/hubspot")
    assert metrics() is before
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["webhook_requests"] == 1


def test_label_sets_that_disagree_on_a_dimension_go_to_separate_emf_documents() -> None:
    sink = EmfMetrics("worker")
    sink.count(RECORDS_WRITTEN, crm="hubspot")
    sink.count(RECORDS_WRITTEN, 2, crm="salesforce")
    documents = sink.documents(now_ms=0)
    assert sorted((d["crm"], d["records_written"]) for d in documents) == [("hubspot", 1), ("salesforce", 2)]


def test_the_no_op_sink_is_the_default_outside_serve_and_lambda() -> None:
    previous = use_metrics(NoMetrics())
    try:
        metrics().count(RECORDS_WRITTEN, crm="hubspot")  # nothing to see, nothing raised
    finally:
        use_metrics(previous)


def test_preset_series_are_there_at_zero_before_anything_happens() -> None:
    sink = PrometheusMetrics()
    sink.preset(crm=["hubspot", "salesforce"], route=["/webhooks/hubspot"])
    text = sink.exposition().decode()
    assert 'leadtherm_events_dead_lettered_total{crm="salesforce"} 0.0' in text
    assert 'leadtherm_crm_paused{crm="hubspot"} 0.0' in text
    assert 'leadtherm_webhook_requests_total{route="/webhooks/hubspot"} 0.0' in text
    assert "_created" not in text
