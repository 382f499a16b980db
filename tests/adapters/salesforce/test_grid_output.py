"""The optional fit x engagement output on Salesforce: a field `setup` creates when named, written when it changes."""

from __future__ import annotations

from pathlib import Path

from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from harness.packaged_copy import copy_packaged
from integration.composition.runtime import build_runtime
from integration.domain.grid import grid_cell
from integration.ports import RecordRef
from integration.service.backfill import backfill
from integration.service.worker import drain
from tests.adapters.salesforce.conftest import password_env
from tests.adapters.salesforce.test_end_to_end import HOT_LEAD

GRID_FIELD = "Lead_Grid__c"


def test_the_grid_cell_is_written_to_a_lead_once_until_it_changes(sandbox: SalesforceSandbox, tmp_path: Path) -> None:
    folder = copy_packaged(tmp_path / "mappings")
    mapping = folder / "salesforce.yaml"
    text = mapping.read_text(encoding="utf-8")
    assert "\n  score: Lead_Score__c\n" in text
    mapping.write_text(text.replace("\n  score: Lead_Score__c\n", f"\n  score: Lead_Score__c\n  grid: {GRID_FIELD}\n"))
    env = {**password_env(sandbox), "LEADTHERM_DB": str(tmp_path / "leadtherm.db")}
    runtime = build_runtime(env, ["salesforce"], folder)
    runtime.plugins["salesforce"].setup(runtime.mappings["salesforce"], env)
    lead = sandbox.create_lead({**HOT_LEAD, "LastName": "Nordlys", "Company": "Nordlys"})

    def run() -> list[str]:
        backfill(runtime.pipeline, "salesforce", ["Lead"], runtime.state, runtime.queue, 100, lambda _, n: None)
        drain(runtime.pipeline)
        return [values[GRID_FIELD] for who, values in sandbox.writes if who == lead and GRID_FIELD in values]

    first = run()
    ref = RecordRef("salesforce", "Lead", lead)
    stored = runtime.state.load([ref])[ref]
    assert first == [grid_cell(stored.fit, stored.engagement, runtime.rules.grid)]
    assert sandbox.record("Lead", lead)[GRID_FIELD] == first[0]
    assert run() == first  # nothing changed: not written again
    # What the console searches by is kept with it: the company and the seniority, not the title.
    assert (stored.company, stored.seniority) == ("Nordlys", "executive")
    assert "Chief Technology Officer" not in str(stored)
