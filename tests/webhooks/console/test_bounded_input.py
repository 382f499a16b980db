"""The console under hostile documents and patterns: a clear 422, never a 500, a hang or a server path."""

from __future__ import annotations

import csv
import html
import io
import json
import threading

import requests

from tests.test_documents import alias_bomb, deep_yaml
from tests.webhooks.console.conftest import EXAMPLES, FETCH, LogIn, Served, job_ended, log_in_at

HOSTILE_TITLE = "a" * 34 + "!"  # minutes of backtracking for ^(a+)+$ on Python's re
YAML_PAGES = ("/admin/yaml/scoring.yaml", "/admin/yaml/hubspot.yaml", "/admin/rules", "/admin/mappings")


def _save_yaml(http: requests.Session, served: Served, token: str, text: str, **options: object) -> requests.Response:
    return http.post(
        f"{served.url}/admin/yaml/scoring.yaml", data={"text": text, "csrf_token": token}, timeout=10, **options
    )


def _upload(
    http: requests.Session, served: Served, token: str, name: str, content: bytes, path: str = "/admin/records"
) -> requests.Response:
    field = "export" if path == "/admin/records" else "history"
    data = {"crm": "hubspot", "csrf_token": token, "outcome": "won"}
    return http.post(f"{served.url}{path}", data=data, files={field: (name, content)}, timeout=30)


def test_an_alias_bomb_posted_four_times_is_refused_and_the_console_keeps_answering(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    before = http.get(f"{served.url}/admin/yaml/scoring.yaml", timeout=10).text
    answers: list[requests.Response] = []
    posts = [
        threading.Thread(target=lambda: answers.append(_save_yaml(http, served, token, alias_bomb(), headers=FETCH)))
        for _ in range(4)
    ]
    for post in posts:
        post.start()
    other, _ = log_in_at(served.url)  # another admin, while the four posts are in flight
    assert other.get(f"{served.url}/admin/rules", timeout=5).status_code == 200
    for post in posts:
        post.join(timeout=15)
    assert [a.status_code for a in answers] == [422] * 4
    assert all("aliases (*a) are not allowed" in a.json()["problems"] for a in answers)
    assert http.get(f"{served.url}/admin/yaml/scoring.yaml", timeout=10).text == before  # the draft kept its text


def test_a_thousand_deep_yaml_is_a_422_and_the_sessions_yaml_pages_keep_working(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    answer = _save_yaml(http, served, token, deep_yaml())
    assert answer.status_code == 422
    assert "scoring.yaml: line 2: nested deeper than 50 levels" in html.unescape(answer.text)
    assert "[[[[" in answer.text  # the admin's text is kept in the editor to fix
    for path in YAML_PAGES:
        assert http.get(f"{served.url}{path}", timeout=10).status_code == 200, path


def test_a_live_yaml_edit_within_the_bounds_is_still_kept_in_the_draft(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text().replace("  hot: 70", "  hot: 75")
    answer = _save_yaml(http, served, token, text, headers=FETCH)
    assert answer.status_code == 200 and "hot: 75" in answer.json()["status"]


def _nested_json(levels: int) -> bytes:
    return ('{"results":\n' + "[" * levels + "]" * levels + "}").encode()


def _huge_number() -> bytes:
    return ('[{"hs_object_id": "1", "jobtitle": "CEO"},\n {"hs_object_id": ' + "7" * 5000 + "}]").encode()


def _refused(http: requests.Session, served: Served, token: str, content: bytes, path: str) -> str:
    """How the console refuses an upload: a 422 page for a preview export, a failed job for a what-if history."""
    if path == "/admin/records":
        answer = _upload(http, served, token, "contacts.json", content, path)
        assert answer.status_code == 422, answer.text[-300:]
        page = answer.text
    else:  # a history is read in the background: the job fails with the reason, and the page shows it
        field = {"history": ("contacts.json", content)}
        data = {"crm": "hubspot", "csrf_token": token, "outcome": "won"}
        answer = http.post(f"{served.url}{path}", data=data, files=field, headers=FETCH, timeout=30)
        assert answer.status_code == 202, answer.text[-300:]
        status = job_ended(http, served.url + answer.json()["status_url"])
        assert status["state"] == "failed"
        page = str(status["error"]) + http.get(f"{served.url}/admin/whatif", timeout=10).text
    # The page names the admin's rules folder (the store it edits); no other server path may show.
    return html.unescape(page).replace(str(served.folder), "<store>")


def test_nested_json_and_a_5000_digit_number_in_an_upload_are_refused_naming_the_upload(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    cases = [
        ("/admin/records", _nested_json(1000), "contacts.json:2: nested deeper than 50 levels"),
        ("/admin/records", _huge_number(), "contacts.json:2: a number of 5,000 digits"),
        ("/admin/whatif/upload", _nested_json(5000), "contacts.json:2: nested deeper than 50 levels"),
        ("/admin/whatif/upload", _huge_number(), "contacts.json:2: a number of 5,000 digits"),
    ]
    for path, content, reason in cases:
        shown = _refused(http, served, token, content, path)
        assert reason in shown, (path, reason)
        assert "leadtherm-upload-" not in shown and "/tmp" not in shown
    assert http.get(f"{served.url}/admin/rules", timeout=10).status_code == 200


def test_an_upload_error_names_the_uploaded_file_never_the_servers_temporary_path(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    for path in ("/admin/records", "/admin/whatif/upload"):
        page = _refused(http, served, token, b'[{"hs_object_id": "1",}', path)
        assert "contacts.json:1: not valid JSON" in page, path
        assert "leadtherm-upload-" not in page and "/tmp" not in page and "upload.json" not in page


def _export_with_a_hostile_title() -> bytes:
    rows = list(csv.DictReader(io.StringIO((EXAMPLES / "hubspot_contacts.csv").read_text())))[:20]
    rows[0]["jobtitle"] = HOSTILE_TITLE
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_previewing_a_nested_quantifier_rule_on_a_hostile_title_keeps_the_console_answering(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    assert _upload(http, served, token, "contacts.csv", _export_with_a_hostile_title()).ok
    mapping = (served.folder / "hubspot.yaml").read_text()
    seniority = mapping.replace("seniority:", "seniority:\n  - pattern: '^(\\w+\\s?)+$'\n    value: individual", 1)
    hubspot = http.post(
        f"{served.url}/admin/yaml/hubspot.yaml", data={"text": seniority, "csrf_token": token}, timeout=10
    )
    assert hubspot.ok
    added: list[requests.Response] = []
    rule = {
        "axis": "fit",
        "label": "Made of a's",
        "attribute": "title",
        "condition": "matches",
        "value": "^(a+)+$",
        "points": "5",
        "csrf_token": token,
    }
    adding = threading.Thread(
        target=lambda: added.append(http.post(f"{served.url}/admin/rules/add", data=rule, headers=FETCH, timeout=10))
    )
    adding.start()
    other, _ = log_in_at(served.url)
    assert other.get(f"{served.url}/admin/rules", timeout=5).status_code == 200  # another admin is not held up
    adding.join(timeout=15)
    [answer] = added
    assert answer.status_code == 200 and answer.json()["problems"].count("flash error") == 0
    assert "Made of a" in answer.json()["status"]  # the rule is in the draft, previewed on the hostile record
    assert "records change" in answer.json()["preview"]
    assert http.get(f"{served.url}/admin/rules", timeout=5).status_code == 200


def test_a_pattern_re2_cannot_run_is_shown_at_its_line_in_the_yaml_editor(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text()
    rule = "  - label: Not co-founders\n    attribute: title\n    matches: '(?<!co-)founder'\n    points: 5\n"
    edited = text.replace("fit:\n", "fit:\n" + rule, 1)
    line = edited.splitlines().index("    matches: '(?<!co-)founder'") + 1
    answer = _save_yaml(http, served, token, edited, headers=FETCH)
    problems = html.unescape(answer.json()["problems"])
    assert f"scoring.yaml:{line}" in problems and "negative lookbehind (?<!...) is not supported" in problems
    assert json.loads(json.dumps(answer.json()))  # a normal answer: the text is kept in the draft to fix
