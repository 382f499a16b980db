"""The console's rules page switches between the default score and the named scores: each edits its own file,
previews on the records in its segment, and is applied with the others."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml
from leadtherm_sandboxes.waiting import wait_until

from adapters.hubspot.flatten import flatten
from examples import generate
from integration.domain.normalize import Normalizer
from integration.domain.scoring import segment_holds
from integration.files.exports import read_export
from mappings.loader import load_scoring
from tests.test_named_scores import admin_folder
from tests.webhooks.console.conftest import EXAMPLES, FETCH, LogIn, Served
from tests.webhooks.console.test_whatif_and_operations import _upload_history


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return admin_folder(tmp_path)  # the packaged files and the README's two named scores


def _in_segment(folder: Path, name: str) -> int:
    config = load_scoring(["hubspot"], folder)
    score = next(s for s in config.scores if s.name == name)
    normalizer = Normalizer(config.mappings["hubspot"])
    leads = [normalizer.lead(flatten(row.record)[1]) for row in read_export(EXAMPLES / "hubspot_contacts.csv")]
    return sum(segment_holds(score.segment, lead.values, generate.REFERENCE) for lead in leads)


def test_the_rules_page_switches_to_a_named_scores_own_rules(served: Served, log_in: LogIn) -> None:
    http, _ = log_in()
    default = http.get(f"{served.url}/admin/rules", timeout=30).text
    assert 'href="/admin/rules?score=analytics"' in default and 'href="/admin/rules?score=stores"' in default
    analytics = http.get(f"{served.url}/admin/rules?score=analytics", timeout=30).text
    assert "Scoring rules: analytics" in analytics
    assert "Mid-size or larger company (100+)" in analytics  # a rule of scoring.analytics.yaml only
    assert "Mid-size or larger company (100+)" not in default
    assert "/admin/yaml/scoring.analytics.yaml" in analytics  # its YAML editor is its own file's
    assert http.get(f"{served.url}/admin/rules?score=nosuch", timeout=30).status_code == 404


def test_an_edit_on_a_named_score_changes_its_file_previews_its_segment_and_is_applied(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    with (EXAMPLES / "hubspot_contacts.csv").open("rb") as handle:
        uploaded = http.post(
            f"{served.url}/admin/records",
            data={"crm": "hubspot", "csrf_token": token},
            files={"export": ("hubspot_contacts.csv", handle, "text/csv")},
            timeout=30,
        )
    assert uploaded.ok
    default_before = (served.folder / "scoring.yaml").read_text()
    answer = http.post(
        f"{served.url}/admin/rules/points",
        data={"axis": "fit", "index": "1", "points": "40", "score": "analytics", "csrf_token": token},
        headers=FETCH,
        timeout=30,
    )
    parts = answer.json()
    found = re.search(r"(\d+) of (\d+) records change", parts["preview"])
    assert found, parts["preview"]
    assert int(found.group(2)) == _in_segment(served.folder, "analytics")  # only the segment's records
    assert "scoring.analytics.yaml" in parts["status"] and "points: 40" in parts["status"]
    applied = http.post(f"{served.url}/admin/apply", data={"csrf_token": token}, timeout=30)
    assert applied.ok
    rules = yaml.safe_load((served.folder / "scoring.analytics.yaml").read_text())
    assert rules["fit"][1]["points"] == 40
    assert (served.folder / "scoring.yaml").read_text() == default_before


def test_the_what_if_of_a_named_score_replays_the_history_in_its_segment(
    served: Served, log_in: LogIn, tmp_path: Path
) -> None:
    http, token = log_in()
    edit = {"axis": "fit", "index": "0", "points": "60", "score": "analytics", "csrf_token": token}
    assert http.post(f"{served.url}/admin/rules/points", data=edit, timeout=30).ok
    _upload_history(http, served, token, tmp_path)
    page = ""

    def ended() -> bool:
        nonlocal page
        page = http.get(f"{served.url}/admin/whatif?score=analytics", timeout=30).text
        return 'id="job"' not in page and 'id="whatif-table"' in page

    assert wait_until(ended, 120, step=0.2)
    assert "What-if on history: analytics" in page
    with (tmp_path / "history.csv").open(newline="") as handle:
        software = sum(row["industry"] == "Software" for row in csv.DictReader(handle))
    split = re.search(r"trained on (\d+) leads, measured on (\d+)", page)
    assert split, "no holdout split on the page"
    assert int(split.group(1)) + int(split.group(2)) == software  # the segment's leads only, of 1500
