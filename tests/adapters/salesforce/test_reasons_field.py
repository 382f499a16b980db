"""The reasons field written to Salesforce adds up to the score field, for every Lead of the example export."""

from __future__ import annotations

from pathlib import Path

from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from examples import generate
from integration.composition.runtime import build_runtime
from integration.files.exports import read_export
from integration.service.backfill import backfill
from integration.service.worker import drain
from mappings.loader import load_mapping
from tests.adapters.salesforce.conftest import password_env
from tests.reasons_sum import points_in

# Read-only or set by conversion: the sandbox takes a new Lead's own fields only.
NOT_CREATABLE = ("Id", "IsConverted", "ConvertedOpportunity.IsWon")


def test_every_example_lead_gets_a_reasons_field_that_adds_up_to_its_score(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    env = {**password_env(sandbox), "LEADTHERM_DB": str(tmp_path / "leadtherm.db"), "SALESFORCE_RATE_LIMIT": "10000/10"}
    build_runtime(env, ["salesforce"]).plugins["salesforce"].setup(load_mapping("salesforce"), env)
    runtime = build_runtime(env, ["salesforce"])  # sees the new fields
    rows = [row.record for row in read_export(generate.HERE / "salesforce_leads.csv")]
    ids = [
        sandbox.create_lead({k: v for k, v in row.items() if k not in NOT_CREATABLE and v not in (None, "")})
        for row in rows
    ]
    backfill(runtime.pipeline, "salesforce", ["Lead"], runtime.state, runtime.queue, 200, lambda _, n: None)
    drain(runtime.pipeline)
    for lead_id in ids:
        held = sandbox.record("Lead", lead_id)
        assert sum(points_in(held["Lead_Score_Reasons__c"])) == int(held["Lead_Score__c"]), held[
            "Lead_Score_Reasons__c"
        ]
