"""Records and Overview in a real headless Chromium, at 1366x900 and 1920x1080, over both example exports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from integration.composition.plugins import load_crm
from integration.composition.runtime import Runtime
from integration.domain.decisions import Write, decide
from integration.domain.grid import grid_cell
from integration.domain.normalize import Normalizer
from integration.files.exports import read_export
from integration.ports import AuditEntry, RecordRef, StoredAssessment
from integration.service.backfill import backfill
from integration.service.worker import drain
from mappings.loader import load_config
from tests.adapters.hubspot.conftest import sandbox  # noqa: F401 - the fixture: the HubSpot sandbox
from tests.adapters.hubspot.test_end_to_end import HOT
from tests.webhooks.console import browser
from tests.webhooks.console.conftest import EXAMPLES, Served, csrf_of, log_in_at
from tests.webhooks.console.test_browser import _follow, _log_in, _wait
from tests.webhooks.console.test_jobs import service  # noqa: F401 - the fixture: `serve`'s app with the console
from webhooks.console.records import PAGE_SIZE

pytestmark = pytest.mark.skipif(not browser.available(), reason="needs chromium and chromedriver: run `make sysdeps`")

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SIZES = [(1366, 900), (1920, 1080)]
EXPORTS = {"hubspot": "hubspot_contacts.csv", "salesforce": "salesforce_leads.csv"}


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with browser.chromium() as made:
        yield made


@pytest.fixture(params=SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def sized(request: pytest.FixtureRequest, driver: WebDriver) -> WebDriver:
    width, height = request.param
    driver.set_window_size(width, height)
    return driver


@pytest.fixture
def stored(served: Served) -> dict[RecordRef, StoredAssessment]:
    """Both example exports scored as the pipeline decides them, stored with their writes in the audit."""
    rules, mappings = load_config(list(EXPORTS), served.folder)
    states: dict[RecordRef, StoredAssessment] = {}
    audit: list[AuditEntry] = []
    for crm, name in EXPORTS.items():
        normalizer, plugin = Normalizer(mappings[crm]), load_crm(crm)
        for row in read_export(EXAMPLES / name):
            object_type, flat = plugin.flatten(row.record)
            kind = object_type or mappings[crm].objects[0]
            ref = RecordRef(crm, kind, str(flat[mappings[crm].id_field]))
            decision = decide(ref, flat, normalizer, rules, None, NOW)
            assert isinstance(decision, Write)
            states[ref] = decision.state
            audit.append(AuditEntry(ref, NOW, "write", decision.changes, ["first assessment"]))
    served.state.save_many(states)
    served.state.append_audit(audit)
    return states


def _no_horizontal_scroll(driver: WebDriver) -> None:
    wide = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert wide <= 0, f"{driver.current_url} scrolls sideways by {wide}px"


def test_a_search_by_company_and_temperature_opens_a_record_whose_reasons_add_up(
    sized: WebDriver, served: Served, stored: dict[RecordRef, StoredAssessment]
) -> None:
    driver = sized
    _log_in(driver, served)
    _follow(driver, driver.find_element(By.LINK_TEXT, "Records"))
    _no_horizontal_scroll(driver)
    target_ref, target = next((r, s) for r, s in stored.items() if r.crm == "salesforce" and s.company)
    word = target.company.split()[0]  # type: ignore[union-attr]
    driver.find_element(By.ID, "q").send_keys(word)
    Select(driver.find_element(By.ID, "temperature")).select_by_value(target.temperature)
    _follow(driver, driver.find_element(By.CSS_SELECTOR, "#record-search button[type=submit]"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#records tbody tr[data-record]")
    expected = {
        r.record_id
        for r, s in stored.items()
        if s.temperature == target.temperature
        and (word.lower() in (s.company or "").lower() or word.lower() in r.record_id.lower())
    }
    assert {row.get_attribute("data-record") for row in rows} == expected
    _no_horizontal_scroll(driver)
    link = driver.find_element(By.CSS_SELECTOR, f'#records tr[data-record="{target_ref.record_id}"] a')
    _follow(driver, link)
    score = int(driver.find_element(By.ID, "score").text)
    points = [int(td.text) for td in driver.find_elements(By.CSS_SELECTOR, "#reasons td.points")]
    assert score == target.score == sum(points)
    assert driver.find_element(By.ID, "temperature").text.startswith(target.temperature)
    assert driver.find_element(By.ID, "next-action").text == target.next_action
    history = driver.find_element(By.ID, "history").text
    assert f"score: empty → {target.score}" in history
    _no_horizontal_scroll(driver)


def test_a_search_by_title_lists_only_records_of_that_seniority_or_rule(
    sized: WebDriver, served: Served, stored: dict[RecordRef, StoredAssessment]
) -> None:
    driver = sized
    _log_in(driver, served)
    driver.get(f"{served.url}/admin/records")
    driver.find_element(By.ID, "title").send_keys("student")
    _follow(driver, driver.find_element(By.CSS_SELECTOR, "#record-search button[type=submit]"))
    shown = [
        row.get_attribute("data-record") for row in driver.find_elements(By.CSS_SELECTOR, "#records tr[data-record]")
    ]
    students = [
        r
        for r, s in stored.items()
        if s.seniority == "student" or any("student" in label.lower() for _, label, _ in s.reasons)
    ]
    assert students and len(shown) == min(len(students), PAGE_SIZE)
    assert set(shown) <= {r.record_id for r in students}
    _no_horizontal_scroll(driver)


def test_the_overview_shows_where_every_stored_record_stands(
    sized: WebDriver, served: Served, stored: dict[RecordRef, StoredAssessment]
) -> None:
    driver = sized
    _log_in(driver, served)
    _follow(driver, driver.find_element(By.LINK_TEXT, "Overview"))
    assert driver.find_element(By.ID, "record-count").text.startswith(f"{len(stored)} stored records")
    rules, _ = load_config(list(EXPORTS), served.folder)
    cells = Counter(grid_cell(s.fit, s.engagement, rules.grid) for s in stored.values())
    for rect in driver.find_elements(By.CSS_SELECTOR, "#grid-chart rect[data-cell]"):
        assert int(rect.get_attribute("data-count") or -1) == cells[rect.get_attribute("data-cell") or ""]
    temperatures = Counter(s.temperature for s in stored.values())
    for bar in driver.find_elements(By.CSS_SELECTOR, "#temperature-bars rect"):
        assert int(bar.get_attribute("data-count") or -1) == temperatures[bar.get_attribute("data-temperature") or ""]
    bands = [
        int(b.get_attribute("data-count") or -1) for b in driver.find_elements(By.CSS_SELECTOR, "#score-histogram rect")
    ]
    assert sum(bands) == len(stored)
    for chart in ("score-histogram", "temperature-bars", "grid-chart"):
        assert driver.find_element(By.ID, chart).is_displayed()
    _wait(driver).until(lambda d: d.find_element(By.ID, "grid-chart").size["width"] > 200)
    _no_horizontal_scroll(driver)


@dataclass
class At:
    url: str


def test_a_record_compared_with_the_draft_shows_what_the_draft_changes(
    sized: WebDriver,
    sandbox: HubSpotSandbox,  # noqa: F811
    service: tuple[str, Runtime],  # noqa: F811
) -> None:
    driver = sized
    url, runtime = service
    contact = sandbox.create_contact({**HOT, "email": "cto@nordlys.example", "company": "Nordlys"})
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, lambda _, n: None)
    drain(runtime.pipeline)
    stored = runtime.state.load([RecordRef("hubspot", "contact", contact)])
    assert any(label == "Decision-maker title" for _, label, _ in next(iter(stored.values())).reasons)
    index = next(i for i, rule in enumerate(runtime.rules.fit) if rule.label == "Decision-maker title")
    http, page = log_in_at(url, name="Grace")  # the same author as the browser's login: the same draft
    data = {"axis": "fit", "index": str(index), "points": "0", "csrf_token": csrf_of(page.text)}
    assert http.post(f"{url}/admin/rules/points", data=data, headers={"X-Requested-With": "fetch"}, timeout=30).ok

    _log_in(driver, At(url))  # type: ignore[arg-type]
    driver.get(f"{url}/admin/records?q=nordlys")
    _follow(driver, driver.find_element(By.CSS_SELECTOR, f'#records tr[data-record="{contact}"] a'))
    before = int(driver.find_element(By.ID, "score").text)
    _follow(driver, driver.find_element(By.ID, "compare"))
    row = driver.find_element(By.CSS_SELECTOR, '#comparison tr[data-what="score"]')
    in_force, draft = (int(td.text) for td in row.find_elements(By.TAG_NAME, "td"))
    assert in_force == before and draft < in_force
    _no_horizontal_scroll(driver)
