"""The committed example exports are what the committed generator makes."""

from __future__ import annotations

import csv
from pathlib import Path

from examples import generate


def test_the_committed_examples_equal_a_fresh_generation(tmp_path: Path) -> None:
    for name, rows in (
        ("hubspot_contacts.csv", generate.hubspot_rows()),
        ("salesforce_leads.csv", generate.salesforce_rows()),
    ):
        fresh = tmp_path / name
        generate.write(fresh, rows)
        assert fresh.read_bytes() == (generate.HERE / name).read_bytes(), f"run `python -m examples.generate` ({name})"


def test_each_example_has_at_least_200_rows_of_every_kind_of_lead() -> None:
    with (generate.HERE / "hubspot_contacts.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 200
    segments = {p.segment for p in generate.people()}
    assert {"purchased list", "newsletter only", "webinar attendee", "demo request, BANT confirmed", "referral",
            "customer", "opted out or bounced", "student address", "free-mail address"} <= segments  # fmt: skip
