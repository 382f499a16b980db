"""A pass writes its changes in batches of 100, however many batch reads it took to read them."""

from __future__ import annotations

from pathlib import Path

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.client import BATCH_LIMIT
from integration.composition.runtime import Runtime, build_runtime
from integration.ports import ChangeEvent, RecordRef
from tests.adapters.hubspot.conftest import SECRET, TOKEN
from tests.adapters.hubspot.helpers import sandbox_env

CONTACTS = 150  # two batch reads of at most 100
CHANGED = 80  # fewer than one batch update


def _batch_updates(sandbox: HubSpotSandbox) -> int:
    return sandbox.calls["POST /crm/v3/objects/contacts/batch/update"]


def _pass(runtime: Runtime, ids: list[str], round_: int) -> None:
    runtime.queue.enqueue([ChangeEvent(f"e{round_}-{i}", RecordRef("hubspot", "contact", i)) for i in ids])
    report = runtime.pipeline.run_once()
    assert report.records == len(ids) and report.failed == 0


def test_a_pass_that_reads_150_contacts_in_two_batches_and_finds_80_changed_makes_one_update_call(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    env = sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET)
    runtime = build_runtime(env, ["hubspot"])
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    ids = [sandbox.create_contact({"jobtitle": "Engineer", "numemployees": "25-50"}) for _ in range(CONTACTS)]
    _pass(runtime, ids, 1)  # every contact is new: written once, in batches of 100
    assert _batch_updates(sandbox) == -(-CONTACTS // BATCH_LIMIT)
    changed = sorted(ids)[50 : 50 + CHANGED]  # on both sides of the batch reads' border
    assert any(i in sorted(ids)[BATCH_LIMIT:] for i in changed)
    for contact_id in changed:
        sandbox.update_contact(contact_id, {"jobtitle": "Chief Executive Officer"})
    before = _batch_updates(sandbox)

    _pass(runtime, ids, 2)

    assert _batch_updates(sandbox) - before == 1
    assert {contact_id for contact_id, _ in sandbox.writes[-CHANGED:]} == set(changed)
