"""An intake's dropped stream is opened again on the one retry policy: doubling, jittered, capped."""

from __future__ import annotations

from integration.service.retry import POLICY, RetryPolicy


def test_a_dropped_stream_waits_longer_after_each_failure_in_a_row_up_to_the_cap() -> None:
    policy = RetryPolicy(reconnect_delay=0.5, max_reconnect_delay=60.0)
    for failures, nominal in ((1, 0.5), (2, 1.0), (3, 2.0), (8, 60.0), (30, 60.0)):
        waits = [policy.reconnect_backoff(failures) for _ in range(50)]
        assert all(0.8 * nominal <= w <= 1.2 * nominal for w in waits), (failures, min(waits), max(waits))
        assert len(set(waits)) > 1  # jittered: many intakes do not reconnect in the same instant


def test_the_cdc_subscriber_takes_its_reconnect_backoff_from_the_shared_policy() -> None:
    from adapters.salesforce.pubsub.subscriber import SubscriberSettings

    assert SubscriberSettings("/data/LeadChangeEvent", ("Lead",), frozenset()).retry is POLICY
