"""The reasons field written to HubSpot adds up to the score field, for every contact of the example export."""

from __future__ import annotations

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from examples import generate
from integration.files.exports import read_export
from integration.service.backfill import backfill
from integration.service.worker import drain
from tests.adapters.hubspot.conftest import Live
from tests.reasons_sum import points_in

READ_ONLY = ("hs_object_id",)


def test_every_example_contact_gets_a_reasons_field_that_adds_up_to_its_score(
    paused: Live, sandbox: HubSpotSandbox
) -> None:
    rows = [row.record for row in read_export(generate.HERE / "hubspot_contacts.csv")]
    ids = [
        sandbox.create_contact({k: str(v) for k, v in row.items() if k not in READ_ONLY and v not in (None, "")})
        for row in rows
    ]
    runtime = paused.runtime
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, lambda _, n: None)
    drain(runtime.pipeline)
    for contact_id in ids:
        held = sandbox.contact(contact_id)
        assert sum(points_in(held["leadtherm_reasons"])) == int(held["leadtherm_score"]), held["leadtherm_reasons"]
