"""The console in a real headless Chromium: the admin's whole round, as the acceptance of issue #14 lists it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness.calibration_data import write_history, write_mapping
from integration.ports import ChangeEvent, RecordRef
from tests.webhooks.console import browser
from tests.webhooks.console.conftest import EXAMPLES, SECRET, Served

pytestmark = pytest.mark.skipif(not browser.available(), reason="needs chromium and chromedriver: run `make sysdeps`")


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with browser.chromium() as made:
        yield made


def _wait(driver: WebDriver, seconds: float = 15) -> WebDriverWait[WebDriver]:
    # The page swaps fragments in place: an element found a moment ago may be replaced before it is read.
    return WebDriverWait(driver, seconds, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def _settled(driver: WebDriver) -> None:
    """Wait until the live form has no edit waiting or on its way (console.js marks the body busy till then)."""
    _wait(driver).until(lambda d: "busy" not in (d.find_element(By.TAG_NAME, "body").get_attribute("class") or ""))


def _follow(driver: WebDriver, element: WebElement, seconds: float = 15) -> None:
    """Click an element that loads a new page and wait until the new page has replaced the old one.

    While Chromium swaps documents, chromedriver can answer a query on the old page with an
    inspector error ("Node with given id does not belong to the document") instead of a
    stale-element error: both only mean the new page is not there yet.
    """
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    swapping = WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,))
    swapping.until(ec.staleness_of(old))
    swapping.until(lambda d: d.execute_script("return document.readyState") == "complete")


def once_shown(driver: WebDriver, element_id: str, seconds: float = 120) -> WebElement:
    """An element of a page that a background job fills: the page polls the job and reloads when it is done."""
    waiting = WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,))
    found: WebElement = waiting.until(
        lambda d: d.find_elements(By.ID, element_id) and d.find_element(By.ID, element_id)
    )
    return found


def _log_in(driver: WebDriver, served: Served) -> None:
    driver.delete_all_cookies()
    driver.get(f"{served.url}/admin/rules")
    assert "/admin/login" in driver.current_url  # redirected: not logged in
    driver.find_element(By.ID, "secret").send_keys(SECRET)
    driver.find_element(By.ID, "name").send_keys("Grace")
    _follow(driver, driver.find_element(By.ID, "login"))
    # The login page's own URL names /admin/rules (?next=): check the page itself.
    assert urlsplit(driver.current_url).path == "/admin/rules"


def _summary(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "preview-summary").text


def test_an_admin_edits_previews_tests_applies_finds_and_rolls_back_a_version(
    driver: WebDriver, served: Served, tmp_path: Path
) -> None:
    _log_in(driver, served)
    driver.find_element(By.ID, "export").send_keys(str(EXAMPLES / "hubspot_contacts.csv"))
    Select(driver.find_element(By.ID, "export-crm")).select_by_visible_text("hubspot")
    _follow(driver, driver.find_element(By.ID, "upload"))
    assert _summary(driver).startswith("0 of 240 records change")

    # Change a rule's points: the preview updates in place, nothing is written yet.
    points = driver.find_element(By.ID, "points-fit-1")  # Director or VP title
    points.clear()
    points.send_keys("60", Keys.TAB)
    _settled(driver)
    moved = int(_summary(driver).split(" of ")[0])
    assert moved > 0
    assert "points: 18" in (served.folder / "scoring.yaml").read_text()

    # What-if on a history: the table and the chart.
    history, mapping = write_history(tmp_path / "history.csv", rows=1200), write_mapping(tmp_path / "sheet.yaml")
    driver.get(f"{served.url}/admin/whatif")
    driver.find_element(By.ID, "history").send_keys(str(history))
    driver.find_element(By.ID, "history-mapping").send_keys(str(mapping))
    driver.find_element(By.ID, "outcome").send_keys("won")
    _follow(driver, driver.find_element(By.ID, "history-upload"), seconds=60)
    table = once_shown(driver, "whatif-table")
    assert "holdout ROC AUC" in table.text and "lift of the top 20%" in table.text
    assert re.search(r"\d+ warmer, \d+ cooler", table.text)
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.chart rect")) > 4

    # Apply, then find the version in the history.
    driver.get(f"{served.url}/admin/rules")
    driver.find_element(By.NAME, "note").send_keys("directors matter more")
    _follow(driver, driver.find_element(By.ID, "apply"))
    assert "/admin/history" in driver.current_url
    row = driver.find_element(By.CSS_SELECTOR, 'tr[data-version="2"]')
    assert "Grace" in row.text and "directors matter more" in row.text and "(in force)" in row.text
    assert "points: 60" in (served.folder / "scoring.yaml").read_text()
    _follow(driver, row.find_element(By.TAG_NAME, "a"))
    assert "+    points: 60" in driver.find_element(By.ID, "version-diff").text

    # Roll back to the files as they were.
    driver.get(f"{served.url}/admin/history")
    _follow(driver, driver.find_element(By.ID, "rollback-1"))
    assert "Rolled back to version 1" in driver.find_element(By.TAG_NAME, "main").text
    assert "points: 18" in (served.folder / "scoring.yaml").read_text()
    assert served.store.head() == 3


def test_invalid_yaml_typed_in_the_editor_shows_the_error_at_its_line(driver: WebDriver, served: Served) -> None:
    _log_in(driver, served)
    driver.get(f"{served.url}/admin/yaml/scoring.yaml")
    editor = driver.find_element(By.ID, "yaml-text")
    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys("\nstarting_points: lots\n")
    _settled(driver)  # on a loaded machine the typing may have been saved in more than one post
    problem = driver.find_element(By.CSS_SELECTOR, "li.problem")
    lines = (served.folder / "scoring.yaml").read_text().count("\n")
    assert f"scoring.yaml:{lines + 2} starting_points must be a whole number (got 'lots')" in problem.text
    assert "starting_points: lots" in problem.find_element(By.CSS_SELECTOR, "pre .bad").text
    assert driver.find_element(By.ID, "apply").get_attribute("disabled") is not None


def test_the_operations_page_replays_a_dead_letter(driver: WebDriver, served: Served) -> None:
    served.queue.enqueue([ChangeEvent("evt-9", RecordRef("salesforce", "Lead", "00Q000000000001AAA"))])
    served.queue.dead_letter(served.queue.lease(10, 30), "write failed: INVALID_FIELD Lead_Score__c")
    _log_in(driver, served)
    driver.get(f"{served.url}/admin/operations")
    assert driver.find_element(By.ID, "dead-count").text == "1"
    assert "INVALID_FIELD Lead_Score__c" in driver.find_element(By.ID, "dead-letters").text
    _follow(driver, driver.find_element(By.CSS_SELECTOR, "#dead-letters button.replay"))
    assert "Replayed 1 event(s)" in driver.find_element(By.TAG_NAME, "main").text
    assert driver.find_element(By.ID, "dead-count").text == "0"
    assert served.queue.stats().depth == 1


# Holds back the page's first draft post for 800 ms before it leaves the browser, as a slow
# link can, and counts the posts; later posts go out at once.
_HOLD_FIRST_POST = """
window.postsMade = 0;
const send = window.fetch.bind(window);
window.fetch = (...args) => {
  window.postsMade += 1;
  if (window.postsMade > 1) { return send(...args); }
  return new Promise((resolve) => setTimeout(resolve, 800)).then(() => send(...args));
};
"""


def _type_points(driver: WebDriver, rule: str, points: str) -> None:
    field = driver.find_element(By.ID, f"points-{rule}")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(points, Keys.TAB)


def test_edits_reach_the_draft_in_the_order_the_admin_made_them_even_when_a_post_is_slow(
    driver: WebDriver, served: Served
) -> None:
    _log_in(driver, served)
    driver.execute_script(_HOLD_FIRST_POST)
    _type_points(driver, "fit-1", "40")  # the first edit, whose post is held back
    _wait(driver).until(lambda d: d.execute_script("return window.postsMade") == 1)
    # Made while the first is on its way: the same rule again, and two other rules' own forms.
    _type_points(driver, "fit-1", "60")
    _type_points(driver, "fit-0", "7")
    _type_points(driver, "fit-2", "9")
    _settled(driver)

    driver.get(f"{served.url}/admin/rules")  # what the server kept, not what the page showed
    kept = {
        rule: driver.find_element(By.ID, f"points-{rule}").get_attribute("value")
        for rule in ("fit-0", "fit-1", "fit-2")
    }
    assert kept == {"fit-0": "7", "fit-1": "60", "fit-2": "9"}


def test_apply_clicked_straight_after_typing_applies_that_edit_too(driver: WebDriver, served: Served) -> None:
    _log_in(driver, served)
    _type_points(driver, "fit-1", "40")
    _settled(driver)  # the draft now differs: the Apply form is on the page
    driver.execute_script(_HOLD_FIRST_POST)  # and the next edit's post is slow
    driver.find_element(By.NAME, "note").send_keys("sixty, not forty")
    field = driver.find_element(By.ID, "points-fit-1")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("60")  # no Tab: the click on Apply is what ends the edit
    _follow(driver, driver.find_element(By.ID, "apply"))

    assert "/admin/history" in driver.current_url
    assert "points: 60" in (served.folder / "scoring.yaml").read_text()
    assert "sixty, not forty" in driver.find_element(By.CSS_SELECTOR, f'tr[data-version="{served.store.head()}"]').text


def test_when_the_edit_cannot_be_saved_apply_clicked_meanwhile_does_nothing(driver: WebDriver, served: Served) -> None:
    _log_in(driver, served)
    _type_points(driver, "fit-1", "40")
    _settled(driver)
    head = served.store.head()
    driver.delete_all_cookies()  # the session ends: the next save is refused
    field = driver.find_element(By.ID, "points-fit-1")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("60")
    driver.find_element(By.ID, "apply").click()
    _settled(driver)

    assert urlsplit(driver.current_url).path == "/admin/rules"  # Apply did not go ahead
    assert "Could not save the draft" in driver.find_element(By.ID, "live-error").text
    assert served.store.head() == head


def test_the_apply_note_survives_edits_made_after_it_was_typed(driver: WebDriver, served: Served) -> None:
    _log_in(driver, served)
    _type_points(driver, "fit-1", "40")
    _settled(driver)
    driver.find_element(By.NAME, "note").send_keys("titles first")
    _type_points(driver, "fit-0", "7")  # its save swaps in a new draft status, Apply form and all
    _settled(driver)

    assert driver.find_element(By.NAME, "note").get_attribute("value") == "titles first"
