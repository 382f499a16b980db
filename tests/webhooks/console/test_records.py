"""The records and overview pages over a real HubSpot sandbox, scored by the real pipeline, through HTTP."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from examples import generate
from integration.composition.runtime import Runtime
from integration.domain.grid import grid_cell
from integration.files.exports import read_export
from integration.ports import RecordQuery, RecordRef, RecordSearch
from integration.service.backfill import backfill
from integration.service.worker import drain
from tests.adapters.hubspot.conftest import sandbox  # noqa: F401 - the fixture: the HubSpot sandbox
from tests.webhooks.console.conftest import csrf_of, log_in_at
from tests.webhooks.console.test_jobs import service  # noqa: F401 - the fixture: `serve`'s app with the console

READ_ONLY = ("hs_object_id",)
Service = tuple[str, Runtime]


@pytest.fixture
def scored(sandbox: HubSpotSandbox, service: Service) -> tuple[str, Runtime, list[str]]:  # noqa: F811
    """The example export's contacts in the sandbox, scored by a backfill; the served URL, runtime and ids."""
    url, runtime = service
    rows = [row.record for row in read_export(generate.HERE / "hubspot_contacts.csv")]
    ids = [sandbox.create_contact({**_properties(row), "company": _company(str(row["email"]))}) for row in rows]
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, lambda _, n: None)
    drain(runtime.pipeline)
    return url, runtime, ids


def _properties(row: Mapping[str, object]) -> dict[str, str]:
    return {k: str(v) for k, v in row.items() if k not in READ_ONLY and v not in (None, "")}


def _company(email: str) -> str:
    """The export has no company column: the company a rep would type, from the e-mail's domain (fjord -> Fjord)."""
    return email.rsplit("@", 1)[-1].split(".")[0].title()


def _admin(url: str) -> tuple[requests.Session, str]:
    http, page = log_in_at(url)
    assert page.ok
    return http, csrf_of(page.text)


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-record="([^"]+)">', page)


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def test_a_search_by_company_finds_its_contacts_and_nothing_else(scored: tuple[str, Runtime, list[str]]) -> None:
    url, runtime, _ = scored
    http, _ = _admin(url)
    page = http.get(f"{url}/admin/records", params={"q": "fjord"}, timeout=30).text
    state = runtime.state
    assert isinstance(state, RecordSearch)
    expected = [
        r.record_id for r, s in state.search(RecordQuery(), None, 1000).records if "fjord" in (s.company or "").lower()
    ]
    assert expected and sorted(_rows(page)) == sorted(expected)


def test_a_search_by_title_and_temperature_narrows_the_list(scored: tuple[str, Runtime, list[str]]) -> None:
    url, runtime, _ = scored
    http, _ = _admin(url)
    page = http.get(f"{url}/admin/records", params={"title": "director", "temperature": "warm"}, timeout=30).text
    shown = _rows(page)
    assert shown
    stored = runtime.state.load([RecordRef("hubspot", "contact", i) for i in shown])
    assert {s.temperature for s in stored.values()} == {"warm"}
    assert all(s.seniority == "director" or any("director" in label.lower() for _, label, _ in s.reasons)
               for s in stored.values())  # fmt: skip


def test_every_record_page_shows_reasons_that_add_up_to_its_score(scored: tuple[str, Runtime, list[str]]) -> None:
    url, runtime, ids = scored
    http, _ = _admin(url)
    for contact in ids:
        page = http.get(f"{url}/admin/records/hubspot/contact/{contact}", timeout=30).text
        score = int(re.search(r'<td id="score">(\d+)</td>', page).group(1))  # type: ignore[union-attr]
        body = re.search(r'<table class="reasons" id="reasons">.*?</tbody>', page, re.S).group(0)  # type: ignore[union-attr]
        points = [int(p) for p in re.findall(r'<td class="points">([+-]?\d+)</td>', body)]
        assert sum(points) == score, (contact, points, score)
        stored = runtime.state.load([RecordRef("hubspot", "contact", contact)])
        assert score == next(iter(stored.values())).score


def test_a_record_page_shows_each_write_with_its_old_and_new_values(
    sandbox: HubSpotSandbox,  # noqa: F811
    scored: tuple[str, Runtime, list[str]],
) -> None:
    url, runtime, ids = scored
    contact = ids[0]
    sandbox.update_contact(contact, {"hs_analytics_num_page_views": "90", "hs_email_click": "14"})
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, lambda _, n: None)
    drain(runtime.pipeline)
    ref = RecordRef("hubspot", "contact", contact)
    [latest, first] = runtime.state.audit(ref)[:2]
    http, _ = _admin(url)
    page = http.get(f"{url}/admin/records/hubspot/contact/{contact}", timeout=30).text
    history = _text(re.search(r'<table class="history" id="history">.*?</table>', page, re.S).group(0))  # type: ignore[union-attr]
    old, new = latest.changes["score"]
    assert f"score: {old} → {new}" in history
    assert f"score: empty → {first.changes['score'][1]}" in history
    assert 'id="score-line"' in page  # two scores: a line of them


def test_comparing_with_the_draft_reads_the_record_once_and_shows_what_the_draft_changes(
    sandbox: HubSpotSandbox,  # noqa: F811
    scored: tuple[str, Runtime, list[str]],
) -> None:
    url, runtime, ids = scored
    http, token = _admin(url)
    decision_maker = [r for r in runtime.state.load([RecordRef("hubspot", "contact", i) for i in ids]).items()
                      if any(label == "Decision-maker title" for _, label, _ in r[1].reasons)]  # fmt: skip
    ref, _ = decision_maker[0]
    index = next(i for i, rule in enumerate(runtime.rules.fit) if rule.label == "Decision-maker title")
    data = {"axis": "fit", "index": str(index), "points": "0", "csrf_token": token}
    assert http.post(f"{url}/admin/rules/points", data=data, headers={"X-Requested-With": "fetch"}, timeout=30).ok
    reads = sandbox.calls.copy()
    page = http.get(f"{url}/admin/records/hubspot/contact/{ref.record_id}", params={"compare": "1"}, timeout=30).text
    assert sum((sandbox.calls - reads).values()) == 1  # one request to the CRM, on demand
    compared = _text(re.search(r'<div id="comparison">.*?</div>', page, re.S).group(0))  # type: ignore[union-attr]
    [score_row] = re.findall(r"score (\d+) (\d+)", " ".join(compared.split()))
    assert int(score_row[1]) < int(score_row[0])  # the draft takes the title's points away


def test_the_overview_counts_every_stored_record_by_score_temperature_and_grid_cell(
    scored: tuple[str, Runtime, list[str]],
) -> None:
    url, runtime, ids = scored
    http, _ = _admin(url)
    page = http.get(f"{url}/admin/overview", timeout=30).text
    stored = runtime.state.load([RecordRef("hubspot", "contact", i) for i in ids]).values()
    assert f"{len(ids)} stored records" in page
    cells = Counter(grid_cell(s.fit, s.engagement, runtime.rules.grid) for s in stored)
    shown = {c: int(n) for c, n in re.findall(r'<td data-cell="([A-D][1-4])">(\d+)</td>', page)}
    assert shown == {f"{r}{c}": cells[f"{r}{c}"] for r in "ABCD" for c in "1234"}
    temperatures = Counter(s.temperature for s in stored)
    bars = dict(re.findall(r'data-temperature="(\w+)" data-count="(\d+)"', page))
    assert {t: int(n) for t, n in bars.items()} == {t: temperatures[t] for t in ("cold", "cool", "warm", "hot")}
    bands = [int(n) for n in re.findall(r'data-band="\d+-\d+" data-count="(\d+)"', page)]
    assert bands == [sum(1 for s in stored if min(s.score // 10, 9) == b) for b in range(10)]


def test_the_operations_page_links_each_write_to_its_record_page_with_the_values(
    scored: tuple[str, Runtime, list[str]],
) -> None:
    url, runtime, _ = scored
    http, _ = _admin(url)
    page = http.get(f"{url}/admin/operations", timeout=30).text
    [last] = runtime.state.recent_audit(1)  # type: ignore[attr-defined]
    assert f'href="/admin/records/hubspot/contact/{last.ref.record_id}"' in page
    assert f"temperature: empty → {last.changes['temperature'][1]}" in _text(page)


def test_a_record_page_lists_every_assessment_even_one_that_wrote_nothing(
    sandbox: HubSpotSandbox,  # noqa: F811
    scored: tuple[str, Runtime, list[str]],
) -> None:
    url, runtime, ids = scored
    contact = ids[1]
    ref = RecordRef("hubspot", "contact", contact)
    writes = len(runtime.state.audit(ref))
    # A change leadtherm reads that moves no output: assessed again, nothing written.
    sandbox.update_contact(contact, {"lastname": "Lind"})
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, lambda _, n: None)
    drain(runtime.pipeline)
    assert len(runtime.state.audit(ref)) == writes  # nothing was written
    [stored] = runtime.state.load([ref]).values()
    assert len(stored.scores) == 2 and stored.scores[0][0] < stored.scores[1][0]
    http, _ = _admin(url)
    page = http.get(f"{url}/admin/records/hubspot/contact/{contact}", timeout=30).text
    table = re.search(r'<table class="assessments" id="assessments">.*?</table>', page, re.S)
    assert table is not None
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>(\w+)</td></tr>", table.group(0))
    assert [(at, int(score), temperature) for at, score, temperature in rows] == [
        (moment.strftime("%Y-%m-%d %H:%M:%S"), score, temperature) for moment, score, temperature in stored.scores[::-1]
    ]
