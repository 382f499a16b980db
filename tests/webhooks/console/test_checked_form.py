"""The rules form refuses, with the reason, what the loader would refuse, and one bad entry never locks the form."""

from __future__ import annotations

import html
import re

import requests

from tests.webhooks.console.conftest import FETCH, LogIn, Served

ADD_RULE = 'action="/admin/rules/add"'


def _post(http: requests.Session, url: str, data: dict[str, str]) -> dict[str, str]:
    answer = http.post(url, data=data, headers=FETCH, timeout=30)
    assert answer.ok
    parts: dict[str, str] = answer.json()
    return {name: html.unescape(text) for name, text in parts.items()}


def _add(http: requests.Session, served: Served, token: str, **rule: str) -> dict[str, str]:
    data = {"axis": "fit", "label": "typed", "points": "5", "csrf_token": token, **rule}
    return _post(http, f"{served.url}/admin/rules/add", data)


def test_at_least_on_a_text_attribute_is_refused_with_the_reason_and_the_rest_of_the_draft_stays(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    _post(http, f"{served.url}/admin/rules/points", {"axis": "fit", "index": "1", "points": "60", "csrf_token": token})
    parts = _add(http, served, token, attribute="title", condition="at_least", value="5")
    assert "not saved" in parts["problems"]
    assert "at_least, below and each need a numeric attribute; title is text" in parts["problems"]
    assert "The draft is valid" in parts["problems"]  # the refused rule never entered the draft
    assert "points: 60" in parts["status"] and "at_least: 5" not in parts["status"]
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    assert ADD_RULE in page and 'id="points-fit-1"' in page


def test_a_typo_of_a_seniority_value_is_refused_by_the_form_with_the_value_it_meant(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    parts = _add(http, served, token, attribute="seniority", condition="is", value="executiv")
    assert "executiv is not a seniority value (did you mean executive?)" in parts["problems"]
    assert "executiv" not in parts["status"]
    accepted = _add(http, served, token, attribute="seniority", condition="is", value="executive")
    assert "not saved" not in accepted["problems"] and "is: executive" in accepted["status"]


def test_the_yaml_editor_shows_a_typo_of_a_known_value_at_its_line(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text().replace("    is: executive\n", "    is: executiv\n", 1)
    line = text.splitlines().index("    is: executiv") + 1
    parts = _post(http, f"{served.url}/admin/yaml/scoring.yaml", {"text": text, "csrf_token": token})
    assert f"scoring.yaml:{line}" in parts["problems"]
    assert "executiv is not a seniority value (did you mean executive?)" in parts["problems"]


def test_a_rule_the_loader_refuses_leaves_the_form_usable_for_the_rest_of_the_draft(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text()
    bad = "  - label: Typed by hand\n    attribute: title\n    at_least: 5\n    points: 5\n"
    text = text.replace("\nengagement:", f"{bad}\nengagement:", 1)
    _post(http, f"{served.url}/admin/yaml/scoring.yaml", {"text": text, "csrf_token": token})
    page = http.get(f"{served.url}/admin/rules", timeout=30).text
    assert ADD_RULE in page and "is not YAML the form can read" not in page
    index = int(re.findall(r'id="points-fit-(\d+)"', page)[-1])  # the bad rule is the last of fit, shown
    assert "at_least, below and each need a numeric attribute; title is text" in html.unescape(page)
    # Other rules are still edited through the form; the bad one can be removed there too.
    edited = _post(
        http, f"{served.url}/admin/rules/points", {"axis": "fit", "index": "1", "points": "60", "csrf_token": token}
    )
    assert "not saved" not in edited["problems"] and "points: 60" in edited["status"]
    removed = _post(http, f"{served.url}/admin/rules/remove", {"axis": "fit", "index": str(index), "csrf_token": token})
    assert "The draft is valid" in removed["problems"] and "points: 60" in removed["status"]


def test_a_typo_beside_good_values_is_refused_by_the_form_though_check_only_notes_it(
    served: Served, log_in: LogIn
) -> None:
    http, token = log_in()
    parts = _add(http, served, token, attribute="seniority", condition="in", value="director, executiv")
    assert "not saved" in parts["problems"]
    assert "executiv is not a seniority value (did you mean executive?)" in parts["problems"]
    assert "executiv" not in parts["status"]


def test_the_yaml_editor_notes_a_typo_beside_good_values_without_blocking_apply(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    text = (served.folder / "scoring.yaml").read_text()
    text = text.replace("    is: director\n", "    in: [director, directr]\n", 1)
    parts = _post(http, f"{served.url}/admin/yaml/scoring.yaml", {"text": text, "csrf_token": token})
    assert "directr is not a seniority value (did you mean director?) (warning)" in parts["problems"]
    assert "The draft is valid" in parts["problems"] and "disabled" not in parts["status"]
