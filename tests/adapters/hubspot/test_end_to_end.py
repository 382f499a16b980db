"""HubSpot end to end: sandbox -> signed webhook -> queue -> pipeline -> batch write, over HTTP."""

from __future__ import annotations

import contextlib
import math
import random
import time

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until as wait_for

from integration.service.backfill import backfill
from integration.service.worker import drain
from tests.adapters.hubspot.conftest import Live
from tests.adapters.hubspot.helpers import expected_outputs, repeated_writes, written_outputs

HOT = {
    "email": "cto@nordlys.example",
    "jobtitle": "Chief Technology Officer",
    "numemployees": "100-500",
    "industry": "Software",
    "country": "Sweden",
    "hs_analytics_source": "REFERRALS",
    "hs_analytics_num_page_views": "40",
    "hs_analytics_num_visits": "9",
    "num_conversion_events": "3",
    "hs_email_open": "12",
    "hs_email_click": "5",
}
BANT = {
    "leadtherm_need": "true",
    "leadtherm_budget": "true",
    "leadtherm_authority": "true",
    "leadtherm_timeline": "true",
}


def _settled(live: Live) -> bool:
    return live.sandbox.flush_webhooks(0.01) and live.runtime.queue.stats().depth == 0


def test_a_contact_whose_changes_make_it_hot_is_written_within_two_seconds(live: Live) -> None:
    contact = live.sandbox.create_contact(HOT)
    assert wait_for(lambda: live.sandbox.contact(contact).get("leadtherm_temperature") == "warm", 5)
    started = time.monotonic()
    live.sandbox.update_contact(contact, BANT)  # a rep records the qualification answers
    assert wait_for(lambda: live.sandbox.contact(contact).get("leadtherm_temperature") == "hot", 2.0)
    assert time.monotonic() - started < 2.0
    held = live.sandbox.contact(contact)
    assert held["leadtherm_stage"] == "sql"
    assert int(held["leadtherm_score"]) >= 75
    assert "Decision-maker title" in held["leadtherm_reasons"]
    assert held["leadtherm_next_action"].startswith("Hand to sales")
    assert held["leadtherm_previous_temperature"] == "warm"


def test_the_echo_of_its_own_write_causes_no_second_write(live: Live) -> None:
    contact = live.sandbox.create_contact(HOT)
    assert wait_for(lambda: live.sandbox.contact(contact).get("leadtherm_temperature") == "warm", 5)
    assert wait_for(lambda: _settled(live), 5)
    time.sleep(0.3)  # let any echo travel the whole loop
    assert wait_for(lambda: _settled(live), 5)
    assert [c for c, _ in live.sandbox.writes] == [contact]
    assert live.runtime.clients["hubspot"].stats.calls["write"] == 1


def test_a_thousand_changes_over_three_hundred_contacts_cost_the_minimum_calls(paused: Live) -> None:
    rng = random.Random(3)
    contacts = [paused.sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"}) for n in range(300)]
    paused.connect_webhooks()
    for n in range(1000):
        contact = contacts[n] if n < 300 else rng.choice(contacts)
        paused.sandbox.update_contact(contact, {"hs_analytics_num_page_views": str(100 + n)})
    assert paused.sandbox.flush_webhooks(20)
    assert wait_for(lambda: paused.runtime.queue.stats().depth >= 1000, 5)
    report = drain(paused.runtime.pipeline)
    stats = paused.runtime.clients["hubspot"].stats
    minimum = math.ceil(300 / 100) + math.ceil(report.written / 100)
    assert report.events - report.echoes == 1000  # our writes' echoes arrive during the drain, and are dropped
    assert stats.calls["fetch"] + stats.calls["write"] <= minimum + stats.retries
    assert stats.calls["fetch"] == 3


def test_with_injected_5xx_and_429_a_5000_event_run_converges(live: Live) -> None:
    rng = random.Random(5)
    live.sandbox.webhook_url = None  # seed quietly
    contacts = [live.sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"}) for n in range(500)]
    live.connect_webhooks()
    live.sandbox.set_faults(rate_5xx=0.10, rate_429=0.05)
    for n in range(5000):
        live.sandbox.update_contact(rng.choice(contacts), {"hs_email_open": str(n)})
    assert live.sandbox.flush_webhooks(60)
    assert wait_for(lambda: live.runtime.queue.stats().depth == 0, 90, step=0.2)
    live.sandbox.set_faults()
    mismatched = [c for c in contacts if written_outputs(live.sandbox, c) != expected_outputs(live.sandbox, c)]
    assert mismatched == []
    assert live.runtime.queue.dead_letters() == []
    assert live.runtime.clients["hubspot"].stats.retries > 0  # the faults really happened
    assert repeated_writes(live.sandbox) == []


def test_backfill_scores_every_contact_and_resumes_after_an_interruption(paused: Live, sandbox: HubSpotSandbox) -> None:
    contacts = [sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"}) for n in range(250)]
    runtime = paused.runtime
    pages: list[int] = []

    def interrupt_after_first_page(_: str, n: int) -> None:
        pages.append(n)
        if len(pages) == 1:
            raise KeyboardInterrupt

    with contextlib.suppress(KeyboardInterrupt):
        backfill(
            runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, interrupt_after_first_page
        )
    assert runtime.state.get_cursor("backfill:hubspot:contact") is not None
    report = backfill(
        runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, lambda _, n: pages.append(n)
    )
    assert pages == [100, 100, 50]  # the second run went on from the saved cursor
    assert report.records == 150
    assert all(sandbox.contact(c).get("leadtherm_temperature") for c in contacts)
    assert runtime.state.get_cursor("backfill:hubspot:contact") is None
