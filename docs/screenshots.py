"""Screenshots of every console page in docs/: `.venv/bin/python -m docs.screenshots` (needs `make sysdeps`).

Headless Chromium at 1366x900 (and the rules page at 1920x1080 too) against `leadtherm console`
with both sandboxes connected: the What-if loaded with the Salesforce example's history, the preview
with the HubSpot example export, then the rules page again with the Salesforce export and with each
sandbox's records. The pages are the console's url_map (those with arguments as the pages link them),
so a page added to the console gets its screenshot without editing this script.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from adapters.sqlite import SqliteWorkQueue
from integration.ports import ChangeEvent, RecordRef
from tests.webhooks.console.browser import chromium
from tests.webhooks.console.live_console import LiveConsole, live_console, offline_app
from tests.webhooks.console.test_browser import _settled
from tests.webhooks.console.test_browser_layout import SOURCES, WIDTHS, every_page, open_page, with_history

DOCS = Path(__file__).resolve().parent
MAX_HEIGHT = 3000  # a long page is shown down to here
NAMES = {"console.yaml_file": "console-yaml", "console.rescore_page": "console-rescore"}


def _name(endpoint: str) -> str:
    return NAMES.get(endpoint, "console-" + endpoint.removeprefix("console.").replace("_", "-"))


def _shot(driver: WebDriver, name: str, width: int, height: int) -> Path:
    """The page down to its end (at most MAX_HEIGHT), at this width."""
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    # The window's height includes what headless Chromium keeps for its own frame (about 140 px).
    driver.set_window_size(width, min(max(full + 160, height), MAX_HEIGHT))
    driver.execute_script("window.scrollTo(0, 0)")
    path = DOCS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(width, height)
    return path


def _dead_letter(live: LiveConsole) -> None:
    """One failed write on the operations page, as the service would have left it."""
    queue = SqliteWorkQueue(live.db)
    queue.enqueue([ChangeEvent("evt-1", RecordRef("hubspot", "contact", "51"))])
    queue.dead_letter(queue.lease(10, 30), "write failed: Property leadtherm_score does not exist")


def _yaml_error(driver: WebDriver, live: LiveConsole, width: int, height: int) -> Path:
    open_page(driver, f"{live.url}/admin/yaml/scoring.yaml")
    editor = driver.find_element(By.ID, "yaml-text")
    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys("\nstage: {mql_score: lots}")
    _settled(driver)
    shot = _shot(driver, "console-yaml-error", width, height)
    driver.find_element(By.ID, "discard").click()  # back to the rules in force
    return shot


def main() -> None:
    width, height = WIDTHS[0]
    made: list[Path] = []
    folder = Path(tempfile.mkdtemp(prefix="leadtherm-screenshots-"))
    with live_console(folder / "live") as live, chromium(width, height) as driver:
        _dead_letter(live)
        driver.get(f"{live.url}/admin/login")
        made.append(_shot(driver, "console-login", width, height))
        driver.find_element(By.ID, "secret").send_keys("correct horse battery staple")
        driver.find_element(By.ID, "name").send_keys("Ada")
        driver.find_element(By.ID, "login").click()
        with_history(driver, live)
        pages = every_page(driver, live, offline_app(folder / "pages"))
        SOURCES[0][1](driver, live)
        for endpoint, url in pages.items():
            open_page(driver, url)
            made.append(_shot(driver, _name(endpoint), width, height))
        made.append(_yaml_error(driver, live, width, height))
        others = ("salesforce-export", "hubspot-sandbox", "salesforce-sandbox")
        for (_, load), name in zip(SOURCES[1:], others, strict=True):
            load(driver, live)
            made.append(_shot(driver, f"console-rules-{name}", width, height))
        wide_width, wide_height = WIDTHS[1]
        driver.set_window_size(wide_width, wide_height)
        open_page(driver, f"{live.url}/admin/rules")
        made.append(_shot(driver, "console-rules-1920", wide_width, wide_height))
    shutil.rmtree(folder, ignore_errors=True)
    print("wrote", ", ".join(sorted(p.name for p in made)))


if __name__ == "__main__":
    main()
