"""The console's wording: values as a person writes them, plain version summaries, uploads that say what they read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask import render_template

from adapters.sqlite import SqliteStateStore, SqliteWorkQueue
from harness.packaged_copy import copy_packaged
from integration.domain.written import change, written
from integration.files.rules_folder import FolderRulesStore
from integration.service.pause import CrmPauses
from tests.webhooks.console.conftest import (
    EXAMPLES,
    FETCH,
    SECRET,
    LogIn,
    Served,
    csrf_of,
    log_in_at,
    serve_app,
)
from webhooks.console import ConsoleConfig, create_console_app
from webhooks.console.rescore import Progress
from webhooks.console.wording import diff_lines, job_error, prefixed, rows_read, version_summary


@pytest.mark.parametrize(
    ("value", "shown"),
    [(True, "true"), (False, "false"), (50.0, "50"), (5000.0, "5000"), (0.5, "0.5"), (30, "30"), (None, "")],
)
def test_a_value_is_shown_as_it_is_written_in_yaml(value: object, shown: str) -> None:
    assert written(value) == shown


def test_a_list_of_values_is_shown_comma_separated() -> None:
    assert written(["Software", "Fintech"]) == "Software, Fintech"
    assert written({"at_least": 7.0, "below": 30.0}) == "at_least: 7, below: 30"


def test_a_change_from_nothing_says_it_was_set_never_none_arrow() -> None:
    assert change("score", None, 15) == "score: set to 15"
    assert change("score", 10.0, 22.0) == "score: 10 → 22"
    assert "None" not in change("temperature", "warm", None)


def test_a_diff_counts_only_the_lines_it_adds_or_removes() -> None:
    diff = "--- a/scoring.yaml\n+++ b/scoring.yaml\n@@ -1,3 +1,3 @@\n keep\n-  warm: 40\n+  warm: 45\n"
    assert diff_lines(diff) == 2


def test_a_crm_name_is_said_once() -> None:
    assert prefixed("hubspot", "hubspot: no lead converted") == "hubspot: no lead converted"
    assert prefixed("hubspot", "no lead converted") == "hubspot: no lead converted"
    line = job_error("history pull from hubspot", "hubspot: no lead converted (has_won_deal is false for all 9)")
    assert line == "history pull from hubspot: no lead converted (has_won_deal is false for all 9)"


def test_a_cut_upload_says_how_much_of_it_is_shown() -> None:
    assert rows_read(500, 100_000) == "first 500 of 100,000 rows"
    assert rows_read(240, 240) == "240 records"


def _scoring(points: int, half_life: int = 30) -> str:
    return (
        f"decay:\n  half_life_days: {half_life}\nfit:\n"
        f"  - label: Director or VP title\n    attribute: seniority\n    in: [director, vp]\n    points: {points}\n"
    )


def test_a_version_summary_names_the_rule_and_its_points_before_and_after() -> None:
    summary = version_summary({"scoring.yaml": _scoring(18)}, {"scoring.yaml": _scoring(33, half_life=21)})
    assert summary == ["Director or VP title: 18 → 33 points", "decay half life days: 30 → 21"]


def test_a_version_summary_names_added_and_removed_rules_and_other_files() -> None:
    before = {"scoring.yaml": _scoring(18), "hubspot.yaml": "id_field: hs_object_id\n"}
    after = {
        "scoring.yaml": "fit:\n  - label: Big company\n    attribute: employees\n    at_least: 500\n    points: 10\n",
        "hubspot.yaml": "id_field: vid\n",
    }
    summary = version_summary(before, after)
    assert "hubspot.yaml: changed (see the diff)" in summary
    assert "Big company: added to fit, 10 points" in summary and "Director or VP title: removed from fit" in summary


# Through the console served on 127.0.0.1


def _upload(http: requests.Session, served: Served, token: str, path: Path, crm: str) -> requests.Response:
    with path.open("rb") as handle:
        return http.post(
            f"{served.url}/admin/records",
            data={"crm": crm, "csrf_token": token},
            files={"export": (path.name, handle, "text/csv")},
            timeout=60,
        )


def test_a_salesforce_export_uploaded_as_hubspot_is_named_and_the_previous_samples_stay(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    assert _upload(http, served, token, EXAMPLES / "hubspot_contacts.csv", "hubspot").ok
    refused = _upload(http, served, token, EXAMPLES / "salesforce_leads.csv", "hubspot")
    assert refused.status_code == 422
    assert "its header looks like a salesforce export" in refused.text
    assert "salesforce_leads.csv: no hs_object_id column (the hubspot record id)" in refused.text
    assert "Records: hubspot_contacts.csv (240 records)" in refused.text  # the samples shown before


def test_a_cut_upload_says_the_preview_holds_its_first_rows(served: Served, log_in: LogIn, tmp_path: Path) -> None:
    lines = (EXAMPLES / "hubspot_contacts.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    big = tmp_path / "big.csv"
    # Each copy with its own id, so every row is a record of its own.
    copies = [re.sub(r"^\d+", str(n + 1000), row) for n, row in enumerate(rows * 3)]
    big.write_text("\n".join([header, *copies]) + "\n")
    http, token = log_in()
    page = _upload(http, served, token, big, "hubspot")
    assert page.ok
    assert f"big.csv (first 500 of {len(copies):,} rows)" in page.text


def test_the_rules_page_shows_values_and_rule_numbers_as_a_person_writes_them(served: Served, log_in: LogIn) -> None:
    http, _ = log_in()
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    assert "True" not in re.sub(r"<[^>]+>", "", page)
    assert not re.search(r"value=\"\d+\.0\"", page)  # half-life 30, not 30.0
    first_cells = re.findall(r'<table class="rules" id="rules-fit">.*?<tbody>\s*<tr[^>]*>\s*<td>(\d+)</td>', page, re.S)
    assert first_cells == ["1"]


def test_a_version_page_sums_up_the_change_above_its_diff(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    http.post(
        f"{served.url}/admin/rules/points",
        data={"axis": "fit", "index": "1", "points": "33", "csrf_token": token},
        headers=FETCH,
        timeout=30,
    )
    http.post(f"{served.url}/admin/apply", data={"note": "directors", "csrf_token": token}, timeout=30)
    page = http.get(f"{served.url}/admin/history/2", timeout=30).text
    summary = re.search(r'<ul class="summary" id="version-summary">(.*?)</ul>', page, re.S)
    assert summary and "Director or VP title: 18 → 33 points" in summary.group(1)
    assert page.index("version-summary") < page.index("version-diff")


def test_declaring_a_custom_attribute_says_it_was_declared(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    page = http.post(
        f"{served.url}/admin/mappings/custom",
        data={"crm": "hubspot", "name": "webinar_count", "field": "webinars", "kind": "number", "csrf_token": token},
        timeout=30,
    )
    assert "Declared webinar_count in the draft of hubspot.yaml" in page.text
    assert csrf_of(page.text)


def test_the_favicon_is_served_from_the_consoles_own_files(served: Served, log_in: LogIn) -> None:
    http, _ = log_in()
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon
    answer = http.get(f"{served.url}{icon.group(1)}", timeout=30)
    assert answer.status_code == 200 and "svg" in answer.headers["Content-Type"]


def test_an_empty_what_if_says_which_file_and_outcome_column_to_use(served: Served, log_in: LogIn) -> None:
    http, _ = log_in()
    page = http.get(f"{served.url}/admin/whatif", timeout=30).text
    assert 'id="whatif-empty"' in page and "IsConverted" in page and "salesforce_leads.csv" in page


def _console_with_pauses(tmp_path: Path, pauses: CrmPauses) -> Iterator[str]:
    folder = copy_packaged(tmp_path / "mappings")
    db = tmp_path / "db.sqlite"
    config = ConsoleConfig(
        secret=SECRET,
        store=FolderRulesStore(folder),
        queue=SqliteWorkQueue(db),
        state=SqliteStateStore(db),
        pauses=pauses,
    )
    yield from serve_app(create_console_app(config))


def test_the_operations_page_says_since_when_a_crm_of_the_running_service_is_paused(tmp_path: Path) -> None:
    clock = [1000.0]
    pauses = CrmPauses(probe_every=30, clock=lambda: clock[0])
    pauses.pause("hubspot", "HubSpot refused the token")
    clock[0] += 90  # paused a minute and a half ago
    for url in _console_with_pauses(tmp_path, pauses):
        http, _ = log_in_at(url)
        page = http.get(f"{url}/admin/operations", timeout=30).text
        found = re.search(r"hubspot: HubSpot refused the token \(since (\S+)\)", page)
        assert found, "no 'since' beside the pause"
        since = datetime.fromisoformat(found.group(1))
        assert abs((datetime.now(UTC) - since).total_seconds() - 90) < 30


def test_the_rescore_page_before_the_run_has_counted_says_it_is_starting(served: Served) -> None:
    app = create_console_app(ConsoleConfig(secret=SECRET, store=served.store, queue=served.queue, state=served.state))
    with app.test_request_context("/admin/rescore"):
        page = render_template("rescore.html", available=True, progress=Progress(running=True))
    assert "Running: ," not in page and "Starting: counting the records in each CRM." in page
    with app.test_request_context("/admin/rescore"):
        page = render_template("rescore.html", available=True, progress=Progress(True, "hubspot", 40, 240))
    assert "Running: hubspot, 40 of 240 records." in page
