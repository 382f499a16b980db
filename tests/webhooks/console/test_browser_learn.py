"""The console's Learn in a real headless Chromium: the CLI's warnings, and an acknowledgement before adopting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from typer.testing import CliRunner

from integration.cli import app
from mappings.loader import PACKAGED
from tests.webhooks.console import browser
from tests.webhooks.console.conftest import EXAMPLES, Served
from tests.webhooks.console.test_browser import _follow, _log_in, once_shown

pytestmark = pytest.mark.skipif(not browser.available(), reason="needs chromium and chromedriver: run `make sysdeps`")
EXAMPLE = EXAMPLES / "salesforce_leads.csv"


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with browser.chromium() as made:
        yield made


def _cli_warnings(tmp_path: Path) -> list[str]:
    """What `leadtherm calibrate` warns of on the packaged Salesforce example, one string per warning."""
    ran = CliRunner().invoke(
        app,
        ["calibrate", str(EXAMPLE), "--mapping", str(PACKAGED / "salesforce.yaml"), "--outcome", "IsConverted",
         "--out", str(tmp_path / "cli.yaml")],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    text = " ".join(ran.stderr.split())
    return [w.strip() for w in text.split("warning: ")[1:]]


def test_learn_on_the_salesforce_example_warns_as_the_cli_does_and_needs_the_acknowledgement(
    driver: WebDriver, served: Served, tmp_path: Path
) -> None:
    expected = _cli_warnings(tmp_path)
    assert any("leakage: column Status (lead_status)" in w for w in expected)
    _log_in(driver, served)
    driver.get(f"{served.url}/admin/whatif")
    driver.find_element(By.ID, "history").send_keys(str(EXAMPLE))
    Select(driver.find_element(By.ID, "history-crm")).select_by_visible_text("salesforce")
    driver.find_element(By.ID, "outcome").send_keys("IsConverted")
    _follow(driver, driver.find_element(By.ID, "history-upload"), seconds=60)
    once_shown(driver, "whatif-table")  # reading the upload and its what-if are background jobs
    _follow(driver, driver.find_element(By.ID, "calibrate"), seconds=120)
    once_shown(driver, "learn-verdict")  # so is Learn

    shown = [" ".join(li.text.split()) for li in driver.find_elements(By.CSS_SELECTOR, "#learn-warnings li")]
    assert shown == expected
    left_out = driver.find_element(By.ID, "left-out")
    assert "Status" in left_out.text and "Closed - Converted" in left_out.text
    assert left_out.find_element(By.CSS_SELECTOR, 'tr[data-attribute="lead_status"]')

    # The page asks for the box; the server asks too, even when the page's check is taken away.
    driver.execute_script("document.getElementById('acknowledge').removeAttribute('required')")
    _follow(driver, driver.find_element(By.ID, "use-calibrated"))
    assert "tick that you have read them first" in driver.find_element(By.TAG_NAME, "main").text
    assert urlsplit(driver.current_url).path == "/admin/whatif"  # still here: nothing adopted

    driver.find_element(By.ID, "acknowledge").click()
    _follow(driver, driver.find_element(By.ID, "use-calibrated"))
    assert urlsplit(driver.current_url).path == "/admin/rules"
    assert "The learned rules are now your draft" in driver.find_element(By.TAG_NAME, "main").text
