"""The reasons add up to the score, for every record of both example exports, wherever a person reads them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from examples import generate
from integration.cli import app
from tests.reasons_sum import points_in

EXPORTS = [("hubspot", "hubspot_contacts.csv"), ("salesforce", "salesforce_leads.csv")]


@pytest.mark.parametrize(("crm", "name"), EXPORTS)
def test_every_scored_row_of_the_example_exports_has_points_that_add_up_to_its_score(crm: str, name: str) -> None:
    result = CliRunner().invoke(
        app, ["score", str(generate.HERE / name), "--crm", crm, "--format", "json", "--as-of", "2026-11-01T00:00:00"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 240
    for row in rows:
        assert sum(line["points"] for line in row["points"]) == row["score"], row["id"]
        assert sum(points_in(row["reasons"])) == row["score"], (row["id"], row["reasons"])
    # The example people include capped and silent ones: those lines are in the sums above.
    labels = {line["label"] for row in rows for line in row["points"]}
    assert any(label.startswith("No activity for") for label in labels)
