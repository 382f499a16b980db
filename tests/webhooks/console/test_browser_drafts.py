"""Drafts and checked forms in a real headless Chromium: a conflict chosen on the page, a refused rule explained."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.webhooks.console import browser
from tests.webhooks.console.conftest import SECRET, Served, csrf_of, log_in_at
from tests.webhooks.console.test_browser import _follow, _settled, driver

pytestmark = pytest.mark.skipif(not browser.available(), reason="needs chromium and chromedriver: run `make sysdeps`")
__all__ = ["driver"]  # the module's browser, shared with these tests


def _log_in(driver: WebDriver, served: Served) -> None:
    driver.delete_all_cookies()
    driver.get(f"{served.url}/admin/login")
    driver.find_element(By.ID, "secret").send_keys(SECRET)
    driver.find_element(By.ID, "name").send_keys("Ada")
    _follow(driver, driver.find_element(By.ID, "login"))


def _fit_points(folder: Path) -> list[float]:
    return [rule["points"] for rule in yaml.safe_load((folder / "scoring.yaml").read_text())["fit"]]


def test_a_rule_another_admin_changed_meanwhile_is_chosen_on_the_page(driver: WebDriver, served: Served) -> None:
    _log_in(driver, served)
    driver.get(f"{served.url}/admin/rules")
    points = driver.find_element(By.ID, "points-fit-0")
    points.clear()
    points.send_keys("60", Keys.TAB)
    _settled(driver)

    grace, page = log_in_at(served.url, name="Grace")
    token = csrf_of(page.text)
    edit = {"axis": "fit", "index": "0", "points": "30", "csrf_token": token}
    grace.post(f"{served.url}/admin/rules/points", data=edit, timeout=30)
    grace.post(f"{served.url}/admin/apply", data={"csrf_token": token}, timeout=30)
    assert _fit_points(served.folder)[0] == 30

    driver.get(f"{served.url}/admin/rules")
    conflict = driver.find_element(By.CSS_SELECTOR, "#conflicts .conflict")
    assert "points: 30" in conflict.find_element(By.CSS_SELECTOR, "pre.theirs").text
    assert "points: 60" in conflict.find_element(By.CSS_SELECTOR, "pre.yours").text
    assert not [b for b in driver.find_elements(By.ID, "apply") if b.is_enabled()]
    _follow(driver, conflict.find_element(By.CSS_SELECTOR, "button.choose-yours"))
    assert not driver.find_elements(By.ID, "conflicts")
    _follow(driver, driver.find_element(By.ID, "apply"))
    assert _fit_points(served.folder)[0] == 60


def test_a_rule_the_loader_would_refuse_is_refused_with_its_reason_and_the_form_stays(
    driver: WebDriver, served: Served
) -> None:
    _log_in(driver, served)
    driver.get(f"{served.url}/admin/rules")
    form = driver.find_element(By.CSS_SELECTOR, 'form[action="/admin/rules/add"]')
    form.find_element(By.NAME, "label").send_keys("Long titles")
    Select(form.find_element(By.NAME, "attribute")).select_by_value("title")
    Select(form.find_element(By.NAME, "condition")).select_by_visible_text("at_least")
    form.find_element(By.NAME, "value").send_keys("5")
    form.find_element(By.NAME, "points").send_keys("5")
    _follow(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    flash = driver.find_element(By.CSS_SELECTOR, ".flash.error").text
    assert "at_least, below and each need a numeric attribute; title is text" in flash
    assert driver.find_elements(By.CSS_SELECTOR, 'form[action="/admin/rules/add"]')
    assert "Long titles" not in driver.find_element(By.ID, "draft-status").text
