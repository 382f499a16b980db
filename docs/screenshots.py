"""Regenerate the console screenshots in docs/: `.venv/bin/python -m docs.screenshots` (needs `make sysdeps`)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import waitress
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from adapters.sqlite import SqliteStateStore, SqliteWorkQueue
from harness.calibration_data import write_history, write_mapping
from integration.files.rules_folder import FolderRulesStore
from integration.ports import ChangeEvent, RecordRef
from mappings.loader import PACKAGED
from tests.webhooks.console.browser import chromium
from webhooks.console import ConsoleConfig, create_console_app

DOCS = Path(__file__).resolve().parent
EXAMPLES = DOCS.parent / "examples"
SECRET = "screenshot-secret"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mappings"
        folder.mkdir()
        for source in PACKAGED.glob("*.yaml"):
            shutil.copy(source, folder / source.name)
        queue, state = SqliteWorkQueue(Path(tmp) / "db"), SqliteStateStore(Path(tmp) / "db")
        queue.enqueue([ChangeEvent("evt-1", RecordRef("hubspot", "contact", "51"))])
        queue.dead_letter(queue.lease(10, 30), "write failed: Property leadtherm_score does not exist")
        app = create_console_app(ConsoleConfig(secret=SECRET, store=FolderRulesStore(folder), queue=queue, state=state))
        server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4, asyncore_use_poll=True)
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
        history, mapping = write_history(Path(tmp) / "history.csv", rows=3000), write_mapping(Path(tmp) / "sheet.yaml")
        try:
            with chromium(1400, 1500) as driver:
                wait = WebDriverWait(driver, 60)
                driver.get(f"{url}/admin/login")
                driver.save_screenshot(str(DOCS / "console-login.png"))
                driver.find_element(By.ID, "secret").send_keys(SECRET)
                driver.find_element(By.ID, "name").send_keys("Ada")
                driver.find_element(By.ID, "login").click()
                wait.until(lambda d: urlsplit(d.current_url).path == "/admin/rules")
                driver.find_element(By.ID, "export").send_keys(str(EXAMPLES / "hubspot_contacts.csv"))
                driver.find_element(By.ID, "upload").click()
                wait.until(ec.presence_of_element_located((By.ID, "preview-summary")))
                points = driver.find_element(By.ID, "points-fit-1")
                points.clear()
                points.send_keys("40", Keys.TAB)
                wait.until(lambda d: not d.find_element(By.ID, "preview-summary").text.startswith("0 of"))
                driver.save_screenshot(str(DOCS / "console-rules.png"))
                driver.get(f"{url}/admin/yaml/scoring.yaml")
                editor = driver.find_element(By.ID, "yaml-text")
                editor.send_keys(Keys.CONTROL, Keys.END)
                editor.send_keys("\nstage: {mql_score: lots}\n")
                wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "li.problem")))
                driver.save_screenshot(str(DOCS / "console-yaml-error.png"))
                page = driver.find_element(By.TAG_NAME, "body")
                driver.find_element(By.ID, "discard").click()  # back to the rules in force
                wait.until(ec.staleness_of(page))
                points = driver.find_element(By.ID, "points-fit-0")
                points.clear()
                points.send_keys("60", Keys.TAB)
                wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-updated"))
                driver.get(f"{url}/admin/whatif")
                driver.find_element(By.ID, "history").send_keys(str(history))
                driver.find_element(By.ID, "history-mapping").send_keys(str(mapping))
                driver.find_element(By.ID, "outcome").send_keys("won")
                driver.find_element(By.ID, "history-upload").click()
                wait.until(ec.presence_of_element_located((By.ID, "whatif-table")))
                driver.save_screenshot(str(DOCS / "console-whatif.png"))
                driver.get(f"{url}/admin/rules")
                driver.find_element(By.NAME, "note").send_keys("decision-makers weigh more")
                driver.find_element(By.ID, "apply").click()
                wait.until(ec.url_contains("/admin/history"))
                driver.save_screenshot(str(DOCS / "console-history.png"))
                driver.get(f"{url}/admin/operations")
                driver.save_screenshot(str(DOCS / "console-operations.png"))
        finally:
            server.close()
    print("wrote", ", ".join(sorted(p.name for p in DOCS.glob("console-*.png"))))


if __name__ == "__main__":
    main()
