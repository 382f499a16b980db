"""Rules and mappings through the console's HTTP interface: edit, preview, validate inline, apply, roll back."""

from __future__ import annotations

import re

import requests

from tests.webhooks.console.conftest import EXAMPLES, FETCH, LogIn, Served, csrf_of


def _upload(http: requests.Session, served: Served, token: str, name: str = "hubspot_contacts.csv") -> str:
    with (EXAMPLES / name).open("rb") as handle:
        crm = "hubspot" if name.startswith("hubspot") else "salesforce"
        answer = http.post(
            f"{served.url}/admin/records",
            data={"crm": crm, "csrf_token": token},
            files={"export": (name, handle, "text/csv")},
            timeout=30,
        )
    assert answer.ok
    return answer.text


def _summary(html: str) -> tuple[int, int]:
    found = re.search(r"(\d+) of (\d+) records change", html)
    assert found, "no preview summary"
    return int(found.group(1)), int(found.group(2))


def test_an_uploaded_export_is_previewed_by_id_company_and_title_never_by_name_or_email(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    page = _upload(http, served, token, "salesforce_leads.csv")
    rows = len((EXAMPLES / "salesforce_leads.csv").read_text().splitlines()) - 1
    assert _summary(page) == (0, rows)  # the draft is the rules in force: nothing moves
    assert "00Q5g0000000000AAA" in page and "Baltic Foods" in page and "Director of Operations" in page
    assert "chloe.schmidt@baltic.example" not in page and "Chloe" not in page


def test_changing_a_rules_points_moves_the_preview_before_anything_is_applied(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    _upload(http, served, token)
    before = (served.folder / "scoring.yaml").read_text()
    answer = http.post(
        f"{served.url}/admin/rules/points",
        data={"axis": "fit", "index": "1", "points": "60", "csrf_token": token},  # Director or VP title
        headers=FETCH,
        timeout=30,
    )
    parts = answer.json()
    moved, total = _summary(parts["preview"])
    assert total > 200 and moved > 0
    assert "seniority" in parts["preview"]  # the attribute whose rules changed is shown
    assert "+  - label: Director or VP title" not in parts["status"]
    assert "points: 60" in parts["status"]  # the draft's diff
    assert (served.folder / "scoring.yaml").read_text() == before  # nothing written yet


def test_invalid_yaml_is_shown_inline_at_its_line(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text()
    lines = text.splitlines()
    line = next(i for i, s in enumerate(lines, 1) if s.strip() == "points: 25")
    lines[line - 1] = lines[line - 1].replace("25", "ten")
    answer = http.post(
        f"{served.url}/admin/yaml/scoring.yaml",
        data={"text": "\n".join(lines) + "\n", "csrf_token": token},
        headers=FETCH,
        timeout=30,
    )
    problems = answer.json()["problems"]
    assert f"scoring.yaml:{line}" in problems
    assert "fit[0].points" in problems and "must be a number (got &#39;ten&#39;)" in problems
    assert 'class="bad"' in problems and "points: ten" in problems  # the line itself, highlighted


def test_a_yaml_syntax_error_is_located(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    answer = http.post(
        f"{served.url}/admin/yaml/hubspot.yaml",
        data={"text": "crm: hubspot\nobjects: [contact\n", "csrf_token": token},
        headers=FETCH,
        timeout=30,
    )
    assert "hubspot.yaml:3" in answer.json()["problems"] and "not valid YAML" in answer.json()["problems"]


def test_apply_writes_a_version_with_author_and_diff_and_rollback_restores_the_files(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    original = (served.folder / "scoring.yaml").read_text()
    http.post(
        f"{served.url}/admin/rules/settings",
        data={
            "cool": "20",
            "warm": "45",
            "hot": "80",
            "criteria_form": "1",
            "require_need": "1",
            "require_budget": "1",
            "csrf_token": token,
        },
        timeout=30,
    )
    history = http.post(f"{served.url}/admin/apply", data={"note": "lower bands", "csrf_token": token}, timeout=30)
    assert "as version 2; no running service reads it" in history.text  # version 1 keeps the files as they were
    written = (served.folder / "scoring.yaml").read_text()
    assert "  warm: 45" in written and "required: [need, budget]" in written
    assert "# leadtherm scoring rules" in written  # comments survive form edits
    versions = served.store.history()
    assert [v.number for v in versions] == [2, 1]
    assert versions[0].author == "Ada" and versions[0].note == "lower bands" and versions[0].changed == ["scoring.yaml"]
    assert "-  warm: 40 " in versions[0].diff and "+  warm: 45 " in versions[0].diff
    page = http.get(f"{served.url}/admin/history/2", timeout=30)
    assert "+  warm: 45" in page.text
    back = http.post(f"{served.url}/admin/history/1/rollback", data={"csrf_token": csrf_of(page.text)}, timeout=30)
    assert "Rolled back to version 1, applied as version 3" in back.text
    assert (served.folder / "scoring.yaml").read_text() == original
    assert served.store.head() == 3


def test_an_invalid_draft_is_not_applied(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text().replace("  cool: 20 ", "  cool: 60 ", 1)
    http.post(f"{served.url}/admin/yaml/scoring.yaml", data={"text": text, "csrf_token": token}, timeout=30)
    answer = http.post(f"{served.url}/admin/apply", data={"csrf_token": token}, timeout=30)
    assert "Not applied" in answer.text and "thresholds out of order" in answer.text
    assert served.store.head() == 0 and "  cool: 20 " in (served.folder / "scoring.yaml").read_text()


def test_a_rule_added_through_the_form_lands_at_the_end_of_its_list(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    http.post(
        f"{served.url}/admin/rules/add",
        data={
            "axis": "penalties",
            "label": "Bad timing",
            "attribute": "lead_status",
            "condition": "in",
            "value": "bad_timing, later",
            "points": "-5",
            "csrf_token": token,
        },
        timeout=30,
    )
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    assert "Bad timing" in page and "The draft is valid" in page


def test_a_custom_attribute_is_declared_in_the_mapping_file_in_the_catalogue_syntax(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    http.post(
        f"{served.url}/admin/mappings/custom",
        data={
            "crm": "hubspot",
            "name": "product_interest",
            "field": "product_interest",
            "kind": "text",
            "label": "Product interest",
            "csrf_token": token,
        },
        timeout=30,
    )
    page = http.get(f"{served.url}/admin/yaml/hubspot.yaml", timeout=30).text
    assert "custom_attributes:" in page
    assert "product_interest: {field: product_interest, kind: text, decays: false, label: Product interest}" in page
    mappings = http.get(f"{served.url}/admin/mappings", timeout=30).text
    assert "<code>product_interest</code>" in mappings  # offered by attributes_in_use


def test_rules_broken_by_hand_on_disk_are_shown_as_problems_not_a_crash(served: Served, log_in: LogIn) -> None:
    (served.folder / "scoring.yaml").write_text("weights: {fit: lots}\nnext_actions: {}\n")
    http, _ = log_in()
    for path in ("/admin/rules", "/admin/whatif", "/admin/yaml/scoring.yaml"):
        page = http.get(f"{served.url}{path}", timeout=30)
        assert page.status_code == 200, path
    assert "weights.fit" in page.text and "must be a number" in page.text


def test_a_rules_attribute_and_condition_are_edited_in_place_through_the_form(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    http.post(
        f"{served.url}/admin/rules/edit",
        data={
            "axis": "fit",
            "index": "3",  # Company size in our sweet spot (50-4,999)
            "label": "Mid-market (100-2,999)",
            "attribute": "company_size",
            "condition": "at_least",
            "value": "100",
            "below": "3000",
            "points": "12",
            "csrf_token": token,
        },
        timeout=30,
    )
    page = http.get(f"{served.url}/admin/yaml/scoring.yaml", timeout=30).text
    assert (
        "  - label: Mid-market (100-2,999)\n    attribute: company_size\n    at_least: 100\n    below: 3000\n" in page
    )
    assert "The draft is valid" in page and "Enterprise company" in page


COMPOUND_FORM = {
    "axis": "fit",
    "label": "Director at a mid-size company",
    "attribute": "seniority",
    "condition": "is",
    "value": "director",
    "attribute_2": "company_size",
    "condition_2": "at_least",
    "value_2": "50",
    "below_2": "5000",
    "attribute_3": "",  # rows left at "(none)" add nothing
    "points": "40",
}


def test_a_compound_rule_added_through_the_form_needs_all_its_conditions_and_moves_the_preview(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    _upload(http, served, token)
    answer = http.post(
        f"{served.url}/admin/rules/add", data={**COMPOUND_FORM, "csrf_token": token}, headers=FETCH, timeout=30
    )
    parts = answer.json()
    assert "The draft is valid" in parts["problems"]
    moved, _ = _summary(parts["preview"])
    assert moved > 0
    yaml_page = http.get(f"{served.url}/admin/yaml/scoring.yaml", timeout=30).text
    assert (
        "  - label: Director at a mid-size company\n    all:\n      - {attribute: seniority, is: director}\n"
        "      - {attribute: company_size, at_least: 50, below: 5000}\n    points: 40\n"
    ) in yaml_page
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    row = page[page.index("<td>Director at a mid-size company") :]
    row = row[: row.index("</tr>")]
    assert "all of:" in row and "<code>seniority</code>" in row and "<code>company_size</code>" in row
    assert "<code>at_least: 50</code>" in row and "<code>below: 5000</code>" in row


def test_a_counter_condition_inside_a_compound_rule_is_refused_inline(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    before = http.get(f"{served.url}/admin/yaml/scoring.yaml", timeout=30).text
    form = {**COMPOUND_FORM, "attribute": "visits", "condition": "each", "value": "2", "csrf_token": token}
    answer = http.post(f"{served.url}/admin/rules/add", data=form, headers=FETCH, timeout=30)
    problems = answer.json()["problems"]
    assert "cannot be used inside all" in problems and ".all[0]" in problems
    assert "Director at a mid-size company" not in before


def test_a_compound_rule_is_edited_through_its_form_and_can_lose_a_condition(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    http.post(f"{served.url}/admin/rules/add", data={**COMPOUND_FORM, "csrf_token": token}, timeout=30)
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    index = len(re.findall(r"<tr>\s*<td>\d+</td>", page[: page.index('id="rules-engagement"')])) - 1
    form = page[page.index("<td>Director at a mid-size company") :]
    form = form[: form.index("</form>")]
    assert 'name="attribute_2"' in form and 'value="company_size" selected' in form  # the form shows both rows
    edited = {**COMPOUND_FORM, "index": str(index), "value_2": "100", "points": "30", "csrf_token": token}
    http.post(f"{served.url}/admin/rules/edit", data=edited, timeout=30)
    yaml_page = http.get(f"{served.url}/admin/yaml/scoring.yaml", timeout=30).text
    assert "      - {attribute: company_size, at_least: 100, below: 5000}\n    points: 30\n" in yaml_page
    single = {**edited, "attribute_2": "", "label": "Director", "points": "20"}
    http.post(f"{served.url}/admin/rules/edit", data=single, timeout=30)
    yaml_page = http.get(f"{served.url}/admin/yaml/scoring.yaml", timeout=30).text
    assert "  - label: Director\n    attribute: seniority\n    is: director\n    points: 20\n" in yaml_page
    assert "The draft is valid" in yaml_page


def test_a_days_ago_rule_from_the_yaml_editor_shows_its_range_and_is_edited_there(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text()
    rule = (
        "  - label: Active this week\n    attribute: last_engagement_at\n"
        "    days_ago: {at_least: 1, below: 7}\n    points: 4\n"
    )
    text = text.replace("\npenalties:\n", "\n" + rule + "\npenalties:\n", 1)
    http.post(f"{served.url}/admin/yaml/scoring.yaml", data={"text": text, "csrf_token": token}, timeout=30)
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    assert "The draft is valid" in page
    table = page[page.index('id="rules-engagement"') :]
    row = table[table.index("Active this week") : table.index("</tr>", table.index("Active this week"))]
    assert re.search(r"days_ago: at_least 1(\.0)?, below 7(\.0)?", row)
    assert "A date's age (days_ago): edit this rule in the" in row
    assert 'action="/admin/rules/edit"' not in row  # the form cannot hold it: the YAML editor does


def test_the_company_rules_are_checked_as_company_rules_in_the_draft(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    assert "The draft is valid" in http.get(f"{served.url}/admin/rules", timeout=30).text
    text = (served.folder / "scoring.company.yaml").read_text()
    text = text.replace("weights: {fit: 0.4,", "weights: {fit: 0.9,")
    http.post(f"{served.url}/admin/yaml/scoring.company.yaml", data={"text": text, "csrf_token": token}, timeout=30)
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    assert "scoring.company.yaml" in page and "must add up to 1" in page
    assert "crm is required" not in page


def test_applied_company_rules_need_no_restart_while_a_mapping_change_does(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.company.yaml").read_text()
    http.post(
        f"{served.url}/admin/yaml/scoring.company.yaml",
        data={"text": text.replace("hot: 80", "hot: 85"), "csrf_token": token},
        timeout=30,
    )
    applied = http.post(f"{served.url}/admin/apply", data={"note": "hotter", "csrf_token": token}, timeout=30).text
    assert "as version 2" in applied and "restarted" not in applied  # the service follows the store's head
    mapping = (served.folder / "hubspot.yaml").read_text()
    http.post(
        f"{served.url}/admin/yaml/hubspot.yaml",
        data={"text": mapping + "\n# a note\n", "csrf_token": csrf_of(applied)},
        timeout=30,
    )
    again = http.post(f"{served.url}/admin/apply", data={"note": "noted", "csrf_token": csrf_of(applied)}, timeout=30)
    assert "as version 3" in again.text and "Mapping changes take effect when serve is restarted" in again.text
