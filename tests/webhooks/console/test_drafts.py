"""Drafts are the admin's, kept in the state store: through logout, other logins, restarts and other admins' applies."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.webhooks.console.conftest import Served, csrf_of, log_in_at
from tests.webhooks.console.test_command import _console


def _as(url: str, name: str = "Ada") -> tuple[requests.Session, str]:
    http, page = log_in_at(url, name=name)
    assert page.ok
    return http, csrf_of(page.text)


def _set_points(http: requests.Session, url: str, token: str, index: int, points: int) -> None:
    data = {"axis": "fit", "index": str(index), "points": str(points), "csrf_token": token}
    answer = http.post(f"{url}/admin/rules/points", data=data, headers={"X-Requested-With": "fetch"}, timeout=30)
    assert answer.ok and "not saved" not in answer.json()["problems"]


def _diff(page: str) -> str:
    found = re.search(r'<pre class="diff">(.*?)</pre>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def _fit_points(folder: Path) -> list[Any]:
    return [rule["points"] for rule in yaml.safe_load((folder / "scoring.yaml").read_text())["fit"]]


def _apply(http: requests.Session, url: str, token: str) -> str:
    return http.post(f"{url}/admin/apply", data={"csrf_token": token, "note": "test"}, timeout=30).text


def test_a_draft_survives_logout_and_is_the_same_in_another_login(served: Served) -> None:
    http, token = _as(served.url)
    _set_points(http, served.url, token, 1, 60)
    http.post(f"{served.url}/admin/logout", data={"csrf_token": token}, timeout=10)
    again, _ = _as(served.url)
    elsewhere, _ = _as(served.url)
    for session in (again, elsewhere):
        assert "+    points: 60" in _diff(session.get(f"{served.url}/admin/rules", timeout=30).text)
    other, _ = _as(served.url, "Grace")  # another admin has a draft of their own
    assert _diff(other.get(f"{served.url}/admin/rules", timeout=30).text) == ""


def test_a_discarded_draft_is_gone_for_the_next_login_too(served: Served) -> None:
    http, token = _as(served.url)
    _set_points(http, served.url, token, 1, 60)
    http.post(f"{served.url}/admin/draft/discard", data={"csrf_token": token}, timeout=30)
    again, _ = _as(served.url)
    assert _diff(again.get(f"{served.url}/admin/rules", timeout=30).text) == ""


def test_a_draft_survives_a_restart_of_the_console(tmp_path: Path) -> None:
    folder, db = tmp_path / "my-mappings", tmp_path / "db.sqlite"
    process, url = _console(folder, db, tmp_path)
    try:
        http, token = _as(url)
        _set_points(http, url, token, 1, 60)
    finally:
        process.terminate()
        process.wait(timeout=10)
    process, url = _console(folder, db, tmp_path)
    try:
        http, _ = _as(url)
        assert "+    points: 60" in _diff(http.get(f"{url}/admin/rules", timeout=30).text)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert _fit_points(folder)[1] != 60  # nothing was applied


def test_edits_to_other_rules_are_carried_onto_the_head_another_admin_moved(served: Served) -> None:
    before = _fit_points(served.folder)
    ada, ada_token = _as(served.url)
    _set_points(ada, served.url, ada_token, 1, 60)
    grace, grace_token = _as(served.url, "Grace")
    _set_points(grace, served.url, grace_token, 0, 30)
    assert "Applied as version" in _apply(grace, served.url, grace_token)
    page = ada.get(f"{served.url}/admin/rules", timeout=30).text
    assert 'id="conflicts"' not in page
    diff = _diff(page)
    assert "+    points: 60" in diff
    assert "points: 30" not in diff  # Grace's change is not undone by Ada's draft
    assert "Applied as version" in _apply(ada, served.url, csrf_of(page))
    assert _fit_points(served.folder)[:3] == [30, 60, before[2]]


@pytest.mark.parametrize("choice", ["theirs", "yours"])
def test_a_rule_both_admins_changed_is_shown_side_by_side_for_the_admin_to_choose(served: Served, choice: str) -> None:
    ada, ada_token = _as(served.url)
    _set_points(ada, served.url, ada_token, 0, 60)
    _set_points(ada, served.url, ada_token, 1, 7)  # not in conflict: carried either way
    grace, grace_token = _as(served.url, "Grace")
    _set_points(grace, served.url, grace_token, 0, 30)
    _apply(grace, served.url, grace_token)
    head = served.store.head()

    page = ada.get(f"{served.url}/admin/rules", timeout=30).text
    conflicts = page[page.index('id="conflicts"') :]
    theirs = html.unescape(re.search(r'<pre class="theirs">(.*?)</pre>', conflicts, re.S).group(1))  # type: ignore[union-attr]
    yours = html.unescape(re.search(r'<pre class="yours">(.*?)</pre>', conflicts, re.S).group(1))  # type: ignore[union-attr]
    assert "Decision-maker title" in theirs and "points: 30" in theirs
    assert "Decision-maker title" in yours and "points: 60" in yours
    refused = _apply(ada, served.url, csrf_of(page))
    assert "choose theirs or yours" in refused and served.store.head() == head

    key = html.unescape(re.search(r'name="key" value="([^"]+)"', conflicts).group(1))  # type: ignore[union-attr]
    chosen = ada.post(
        f"{served.url}/admin/draft/choose", data={"key": key, "choice": choice, "csrf_token": ada_token}, timeout=30
    )
    assert 'id="conflicts"' not in chosen.text
    assert "Applied as version" in _apply(ada, served.url, csrf_of(chosen.text))
    assert _fit_points(served.folder)[:2] == [30 if choice == "theirs" else 60, 7]
