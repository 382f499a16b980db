"""Account scores over Change Data Capture: an Account's own change arrives on /data/AccountChangeEvent."""

from __future__ import annotations

import time

from leadtherm_sandboxes.waiting import wait_until

from integration.service.worker import drain
from tests.adapters.salesforce.cdc_world import World, world

__all__ = ["world"]  # the fixture, imported for pytest

ACCOUNT_TOPIC = "/data/AccountChangeEvent"
ENGAGED = {"LeadSource": "Employee Referral", "BANT_Timeline__c": True, "LastActivityDate": time.strftime("%Y-%m-%d")}


def test_an_account_s_own_change_re_scores_it_and_the_echo_of_its_write_is_dropped(world: World) -> None:
    account = world.org.create_record("Account", {"Name": "Nordlys AB", "Industry": "Mining"})
    for title in ("Chief Executive Officer", "IT Manager"):
        world.org.create_record("Contact", {"LastName": "X", "Title": title, "AccountId": account, **ENGAGED})
    runtime, listener, stop, thread = world.listening(SALESFORCE_CDC_TOPICS=ACCOUNT_TOPIC)
    world.org.update_record("Account", account, {"Industry": "Software", "NumberOfEmployees": 400})
    assert wait_until(lambda: drain(runtime.pipeline).written == 1, 10)
    held = world.org.record("Account", account)
    assert "Target industry" in held["Account_Score_Reasons__c"] and held["Account_Engaged_People__c"] == 2
    assert wait_until(lambda: listener.subscribers[0].stats.own_writes == 1, 5)  # our write's echo
    drain(runtime.pipeline)
    stop.set()
    thread.join(5)
    assert [record_id for record_id, _ in world.org.writes] == [account]


def test_a_change_to_an_account_field_no_score_reads_queues_nothing(world: World) -> None:
    account = world.org.create_record("Account", {"Name": "Nordlys AB", "Industry": "Software"})
    runtime, listener, stop, thread = world.listening(SALESFORCE_CDC_TOPICS=ACCOUNT_TOPIC)
    world.org.update_record("Account", account, {"Name": "Nordlys Group AB"})  # the score reads no name
    assert wait_until(lambda: listener.subscribers[0].stats.irrelevant == 1, 5)
    stop.set()
    thread.join(5)
    assert runtime.queue.stats().depth == 0
