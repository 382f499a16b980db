"""A pass writes its changes in sObject Collections of 200, however many SOQL chunks it read them in."""

from __future__ import annotations

from pathlib import Path

from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.client import COLLECTION_LIMIT, READ_CHUNK
from integration.composition.runtime import Runtime, build_runtime
from integration.ports import ChangeEvent, RecordRef
from mappings.loader import load_mapping
from tests.adapters.salesforce.conftest import password_env

LEADS = 227  # two read chunks of 200 ids
CHANGED = 125  # fewer than one collection


def _runtime(sandbox: SalesforceSandbox, db: Path) -> Runtime:
    env = {**password_env(sandbox), "LEADTHERM_DB": str(db), "SALESFORCE_RATE_LIMIT": "10000/10"}
    build_runtime(env, ["salesforce"]).plugins["salesforce"].setup(load_mapping("salesforce"), env)
    return build_runtime(env, ["salesforce"])  # sees the new fields


def _collection_updates(sandbox: SalesforceSandbox) -> int:
    return sum(n for rule, n in sandbox.calls.items() if rule.endswith("/composite/sobjects"))


def _pass(runtime: Runtime, ids: list[str], round_: int) -> None:
    runtime.queue.enqueue([ChangeEvent(f"n{round_}-{i}", RecordRef("salesforce", "Lead", i)) for i in ids])
    report = runtime.pipeline.run_once()
    assert report.records == len(ids) and report.failed == 0


def test_a_pass_that_reads_227_leads_in_two_chunks_and_finds_125_changed_makes_one_update_call(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    runtime = _runtime(sandbox, tmp_path / "leadtherm.db")
    ids = [sandbox.create_lead({"Title": "Engineer", "NumberOfEmployees": 40}) for _ in range(LEADS)]
    _pass(runtime, ids, 1)  # every lead is new: written once, in collections of 200
    assert _collection_updates(sandbox) == -(-LEADS // COLLECTION_LIMIT)
    # 125 leads become executives (a new score), on both sides of the read chunks' border.
    changed = sorted(ids)[100 : 100 + CHANGED]
    assert any(i in sorted(ids)[READ_CHUNK:] for i in changed)
    for lead_id in changed:
        sandbox.update_record("Lead", lead_id, {"Title": "Chief Executive Officer"})
    before = _collection_updates(sandbox)

    _pass(runtime, ids, 2)

    assert _collection_updates(sandbox) - before == 1
    assert {record_id for record_id, _ in sandbox.writes[-CHANGED:]} == set(changed)
