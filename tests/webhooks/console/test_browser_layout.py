"""Every console page at 1366x900 and 1920x1080 in a real headless Chromium: no sideways scroll, nothing overlapping,
the YAML editor's line numbers, every control reached by keyboard, and axe-core's accessibility checks.

One console process with both sandboxes connected, one browser, for the whole module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.webhooks.console import browser
from tests.webhooks.console.conftest import EXAMPLES
from tests.webhooks.console.live_console import (
    CRMS,
    SECRET,
    LiveConsole,
    fixed_pages,
    live_console,
    offline_app,
    one_link_per_page,
    page_endpoints,
)
from tests.webhooks.console.test_browser import _follow, _settled, once_shown

pytestmark = pytest.mark.skipif(not browser.available(), reason="needs chromium and chromedriver: run `make sysdeps`")
WIDTHS = ((1366, 900), (1920, 1080))
AXE = Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with live_console(tmp_path_factory.mktemp("live")) as running:
        yield running


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return offline_app(tmp_path_factory.mktemp("pages"))


@pytest.fixture(scope="module")
def driver(live: LiveConsole) -> Iterator[WebDriver]:
    with browser.chromium(*WIDTHS[0]) as made:
        log_in_driver(made, live)
        yield made


def log_in_driver(driver: WebDriver, live: LiveConsole) -> None:
    driver.get(f"{live.url}/admin/login")
    driver.find_element(By.ID, "secret").send_keys(SECRET)
    driver.find_element(By.ID, "name").send_keys("Grace")
    _follow(driver, driver.find_element(By.ID, "login"))


def _sized(driver: WebDriver, width: int, height: int) -> None:
    driver.set_window_size(width, height)


def open_page(driver: WebDriver, url: str) -> None:
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete"


def _sideways(driver: WebDriver) -> int:
    """How far the page scrolls sideways (0: not at all)."""
    scrolled: int = driver.execute_script(
        "const e = document.documentElement; return Math.max(e.scrollWidth, document.body.scrollWidth) - e.clientWidth"
    )
    return scrolled


def _links(driver: WebDriver) -> list[str]:
    found: list[str] = driver.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    return found


def every_page(driver: WebDriver, live: LiveConsole, app: Flask) -> dict[str, str]:
    """endpoint -> URL of every console page: the fixed ones from the url_map, the others as the pages link them."""
    pages = {e: live.url + path for e, path in fixed_pages(app).items()}
    links: list[str] = []
    for url in pages.values():
        open_page(driver, url)
        links.extend(_links(driver))
    wanted = set(page_endpoints(app)) - set(pages)
    pages.update({e: live.url + path for e, path in one_link_per_page(app, links, wanted).items()})
    missing = sorted(set(page_endpoints(app)) - set(pages))
    assert not missing, f"pages no other page links to (link them, or list them in NOT_PAGES): {missing}"
    return pages


def upload(driver: WebDriver, live: LiveConsole, name: str, crm: str) -> None:
    open_page(driver, f"{live.url}/admin/rules")
    driver.find_element(By.ID, "export").send_keys(str(EXAMPLES / name))
    Select(driver.find_element(By.ID, "export-crm")).select_by_visible_text(crm)
    _follow(driver, driver.find_element(By.ID, "upload"))
    assert "records change" in driver.find_element(By.ID, "preview-summary").text


def read_from(driver: WebDriver, live: LiveConsole, crm: str) -> None:
    open_page(driver, f"{live.url}/admin/rules")
    _follow(driver, driver.find_element(By.ID, f"read-{crm}"))
    assert "records change" in driver.find_element(By.ID, "preview-summary").text


def with_history(driver: WebDriver, live: LiveConsole) -> None:
    """The Salesforce example as the what-if's history: its table and charts are on the What-if page."""
    open_page(driver, f"{live.url}/admin/whatif")
    if driver.find_elements(By.ID, "whatif-table"):
        return
    driver.find_element(By.ID, "history").send_keys(str(EXAMPLES / "salesforce_leads.csv"))
    Select(driver.find_element(By.ID, "history-crm")).select_by_visible_text("salesforce")
    driver.find_element(By.ID, "outcome").send_keys("IsConverted")
    _follow(driver, driver.find_element(By.ID, "history-upload"), seconds=60)
    once_shown(driver, "whatif-table")


SOURCES = (
    ("the HubSpot example export", lambda d, live: upload(d, live, "hubspot_contacts.csv", "hubspot")),
    ("the Salesforce example export", lambda d, live: upload(d, live, "salesforce_leads.csv", "salesforce")),
    ("records read from the HubSpot sandbox", lambda d, live: read_from(d, live, "hubspot")),
    ("records read from the Salesforce sandbox", lambda d, live: read_from(d, live, "salesforce")),
)


def test_no_page_scrolls_sideways_with_either_example_export_or_either_sandbox_at_both_widths(
    driver: WebDriver, live: LiveConsole, app: Flask
) -> None:
    _sized(driver, *WIDTHS[0])
    with_history(driver, live)
    pages = every_page(driver, live, app)
    wide: list[str] = []
    for source, load in SOURCES:
        _sized(driver, *WIDTHS[0])
        load(driver, live)
        for width, height in WIDTHS:
            _sized(driver, width, height)
            for endpoint, url in pages.items():
                open_page(driver, url)
                if (overflow := _sideways(driver)) > 0:
                    wide.append(f"{endpoint} at {width}x{height} with {source}: {overflow} px")
    assert not wide, "pages that scroll sideways:\n" + "\n".join(wide)


def _rect(driver: WebDriver, element: Any) -> dict[str, float]:
    found: dict[str, float] = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top};", element
    )
    return found


def _in_view(driver: WebDriver, element: Any) -> bool:
    """Whether the element is inside every box that clips it (its scroll boxes), not scrolled out of sight."""
    shown: bool = driver.execute_script(
        """
        const r = arguments[0].getBoundingClientRect();
        for (let box = arguments[0].parentElement; box; box = box.parentElement) {
          const style = getComputedStyle(box);
          if (style.overflowX === 'visible') continue;
          const b = box.getBoundingClientRect();
          if (r.left < b.left - 1 || r.right > b.right + 1) return false;
        }
        return r.right <= document.documentElement.clientWidth + 1 && r.width > 0;
        """,
        element,
    )
    return shown


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_opened_edit_forms_and_the_penalties_table_keep_points_and_remove_clear_of_the_preview(
    driver: WebDriver, live: LiveConsole, width: int, height: int
) -> None:
    _sized(driver, width, height)
    read_from(driver, live, "salesforce")
    for summary in driver.find_elements(By.CSS_SELECTOR, "details.edit-rule > summary"):
        driver.execute_script("arguments[0].parentElement.open = true", summary)
    side = _rect(driver, driver.find_element(By.CSS_SELECTOR, "section.side"))
    points_and_remove = "table.rules input.points, table.rules button[title='remove this rule']"
    controls = driver.find_elements(By.CSS_SELECTOR, points_and_remove)
    assert len(controls) > 10
    hidden = [c.get_attribute("aria-label") or c.get_attribute("id") for c in controls if not _in_view(driver, c)]
    assert not hidden, f"scrolled out of sight: {hidden}"
    assert all(_rect(driver, c)["right"] <= side["left"] for c in controls)  # none under the Preview panel
    assert _sideways(driver) == 0


@pytest.mark.parametrize(("width", "height"), WIDTHS)
@pytest.mark.parametrize("crm", CRMS)
def test_the_before_and_after_columns_are_in_view_with_records_read_from_a_crm(
    driver: WebDriver, live: LiveConsole, crm: str, width: int, height: int
) -> None:
    _sized(driver, width, height)
    read_from(driver, live, crm)
    for cell in driver.find_elements(By.CSS_SELECTOR, "table.preview tbody tr:first-child td.before, "
                                                      "table.preview tbody tr:first-child td.after"):  # fmt: skip
        assert _in_view(driver, cell), cell.text
    assert _sideways(driver) == 0


def _violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the open page (axe served from the tests' own node_modules)."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    found: dict[str, Any] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done({violations: r.violations, passes: r.passes.length}),"
        " e => done({violations: [{id: String(e)}], passes: 0}));"
    )
    assert found["passes"] > 10, found  # axe ran its rules on the page
    violations: list[dict[str, Any]] = found["violations"]
    return [v for v in violations if v.get("impact") in SERIOUS or "impact" not in v]


@pytest.mark.skipif(not AXE.exists(), reason="needs axe-core: run `make osls` (npm install)")
def test_every_page_passes_axe_without_serious_or_critical_violations_at_both_widths(
    driver: WebDriver, live: LiveConsole, app: Flask
) -> None:
    _sized(driver, *WIDTHS[0])
    with_history(driver, live)
    upload(driver, live, "hubspot_contacts.csv", "hubspot")
    pages = every_page(driver, live, app)
    failed: list[str] = []
    for width, height in WIDTHS:
        _sized(driver, width, height)
        for endpoint, url in pages.items():
            open_page(driver, url)
            for v in _violations(driver):
                nodes = [" ".join(n.get("target", [])) for n in v.get("nodes", [])][:3]
                failed.append(f"{endpoint} at {width}: {v.get('id')} ({v.get('impact')}) {v.get('help', '')} {nodes}")
    assert not failed, "\n".join(failed)


_CONTROLS = """
return Array.from(document.querySelectorAll('main form input, main form select, main form textarea, main form button'))
  .filter(e => e.type !== 'hidden' && !e.disabled && e.offsetParent !== null && !e.closest('details:not([open])'))
  .map(e => e.id || e.name + ':' + (e.value || e.textContent).slice(0, 20) + ':' + e.form.action);
"""
_FOCUSED = """
const e = document.activeElement;
return e && e.form ? (e.id || e.name + ':' + (e.value || e.textContent).slice(0, 20) + ':' + e.form.action) : null;
"""


def test_every_form_control_of_every_page_is_reached_with_the_tab_key(
    driver: WebDriver, live: LiveConsole, app: Flask
) -> None:
    _sized(driver, *WIDTHS[0])
    upload(driver, live, "salesforce_leads.csv", "salesforce")
    missed: list[str] = []
    counted: dict[str, int] = {}
    for endpoint, url in every_page(driver, live, app).items():
        open_page(driver, url)
        controls: list[str] = driver.execute_script(_CONTROLS)
        driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
        reached: set[str] = set()
        for _ in range(len(controls) * 2 + 40):  # every control, the links between them, and the header's
            ActionChains(driver).send_keys(Keys.TAB).perform()
            focused = driver.execute_script(_FOCUSED)
            if focused:
                reached.add(focused)
            if reached >= set(controls):
                break
        missed.extend(f"{endpoint}: {c}" for c in controls if c not in reached)
        counted[endpoint] = len(controls)
    assert counted["console.rules"] > 20 and counted["console.whatif"] > 5, counted
    assert not missed, "controls the Tab key never reaches:\n" + "\n".join(missed)


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_the_yaml_editor_numbers_its_lines_and_marks_a_problem_beside_its_line_near_the_top(
    driver: WebDriver, live: LiveConsole, width: int, height: int
) -> None:
    _sized(driver, width, height)
    open_page(driver, f"{live.url}/admin/yaml/scoring.yaml")
    editor = driver.find_element(By.ID, "yaml-text")
    lines = len((editor.get_attribute("value") or "").split("\n"))
    numbers = driver.find_elements(By.CSS_SELECTOR, ".code-editor .gutter span")
    assert [n.get_attribute("textContent") for n in numbers] == [str(n) for n in range(1, lines + 1)]

    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys("\nstarting_points: lots")
    _settled(driver)
    problem = driver.find_element(By.CSS_SELECTOR, "#problems li.problem")
    line = problem.get_attribute("data-line")
    marked = driver.find_element(By.CSS_SELECTOR, ".code-editor .gutter span.bad")
    assert marked.get_attribute("textContent") == line == str(lines + 1)
    assert "starting_points must be a whole number" in (marked.get_attribute("title") or "")
    # The problem is read without scrolling: above the fold, not below a 40-line editor.
    assert _rect(driver, problem)["top"] < height / 2
    assert _sideways(driver) == 0

    token = driver.find_element(By.TAG_NAME, "body").get_attribute("data-csrf")
    driver.execute_script(
        "return fetch('/admin/draft/discard', {method: 'POST', credentials: 'same-origin',"
        " headers: {'Content-Type': 'application/x-www-form-urlencoded'},"
        " body: 'csrf_token=' + encodeURIComponent(arguments[0])})",
        token,
    )


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_an_export_of_the_other_crm_is_named_as_the_cli_names_it_and_the_records_shown_before_stay(
    driver: WebDriver, live: LiveConsole, width: int, height: int
) -> None:
    _sized(driver, width, height)
    upload(driver, live, "hubspot_contacts.csv", "hubspot")
    driver.find_element(By.ID, "export").send_keys(str(EXAMPLES / "salesforce_leads.csv"))
    Select(driver.find_element(By.ID, "export-crm")).select_by_visible_text("hubspot")
    _follow(driver, driver.find_element(By.ID, "upload"))
    refused = driver.find_element(By.CSS_SELECTOR, "p.flash.error").text
    assert "salesforce_leads.csv: no hs_object_id column (the hubspot record id), so not a hubspot export" in refused
    assert "its header looks like a salesforce export" in refused and "hubspot: hubspot" not in refused
    assert (
        "Records: hubspot_contacts.csv (240 records)"
        in driver.find_element(By.ID, "preview").find_element(By.XPATH, "..").text
    )
    assert _sideways(driver) == 0


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_declaring_a_custom_attribute_is_confirmed_on_the_page(
    driver: WebDriver, live: LiveConsole, width: int, height: int
) -> None:
    _sized(driver, width, height)
    open_page(driver, f"{live.url}/admin/mappings")
    form = driver.find_element(By.ID, "custom-form")
    form.find_element(By.NAME, "name").send_keys("webinar_count")
    form.find_element(By.NAME, "field").send_keys("webinars")
    _follow(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    shown = driver.find_element(By.CSS_SELECTOR, "p.flash.info").text
    assert shown.startswith("Declared webinar_count in the draft of hubspot.yaml")
    assert "webinar_count" in driver.find_element(By.ID, "custom-attributes").text
    assert _sideways(driver) == 0
    _follow(driver, driver.find_element(By.ID, "discard"))  # the next test starts from the rules in force


def test_axe_is_served_from_the_tests_own_files() -> None:
    """No CDN: the accessibility checks run axe-core from node_modules, as package.json pins it."""
    pinned = json.loads((AXE.parents[2] / "package.json").read_text())["devDependencies"]["axe-core"]
    if AXE.exists():
        assert json.loads((AXE.parent / "package.json").read_text())["version"] == pinned
