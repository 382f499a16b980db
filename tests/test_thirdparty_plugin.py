"""A third-party CRM is a package with an entry point and nothing else (tests/thirdparty_crm/).

It is installed here as a user would install it, into a folder of its own on PYTHONPATH, and
leadtherm, unchanged, checks its settings, serves its webhook and writes its scores back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.waiting import wait_until

from harness.packaged_copy import copy_packaged
from harness.servers import free_port
from tests.serve_process import LEADTHERM, ServeProcess

PLUGIN = Path(__file__).resolve().parent / "thirdparty_crm"
CLEARED = ("HUBSPOT_", "SALESFORCE_", "LEADTHERM_", "TINYCRM_", "REQUESTS_CA_BUNDLE", "PYTHONPATH")
SECRET = "tiny-shared-secret"
A_HOT_CONTACT = {
    "email": "cto@nordlys.example", "jobtitle": "Chief Technology Officer", "numemployees": "100-500",
    "industry": "Software", "country": "Sweden", "hs_analytics_num_page_views": 40, "leadtherm_need": True,
}  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed with pip into a folder of its own (built from a copy: the tests folder stays clean)."""
    source = shutil.copytree(PLUGIN, tmp_path_factory.mktemp("source") / "thirdparty_crm")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    return target


@pytest.fixture
def env(site: Path, tmp_path: Path) -> dict[str, str]:
    folder = copy_packaged(tmp_path / "mappings")
    shutil.copy(site / "tinycrm" / "tinycrm.yaml", folder)  # the mapping the plugin ships
    store = tmp_path / "tinycrm.json"
    store.write_text(json.dumps({"contact": {"1": A_HOT_CONTACT}}))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    return {
        **clean, "PYTHONPATH": str(site), "TINYCRM_STORE": str(store), "TINYCRM_SECRET": SECRET,
        "LEADTHERM_MAPPINGS": str(folder), "LEADTHERM_DB": str(tmp_path / "leadtherm.db"),
    }  # fmt: skip


@pytest.fixture
def serving(env: dict[str, str], tmp_path: Path) -> Iterator[ServeProcess]:
    serve = ServeProcess(free_port(), env, tmp_path / "serve.log")
    try:
        serve.start()
    except RuntimeError:
        raise AssertionError((tmp_path / "serve.log").read_text()) from None
    yield serve
    serve.stop()


def _contact(env: dict[str, str]) -> dict[str, object]:
    data = json.loads(Path(env["TINYCRM_STORE"]).read_text())
    contact: dict[str, object] = data["contact"]["1"]
    return contact


def test_check_env_lists_the_third_party_crms_settings_with_their_owner(env: dict[str, str], tmp_path: Path) -> None:
    ran = subprocess.run(
        [*LEADTHERM, "check", "--env"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    rows = {line.split()[0]: line.split()[1:] for line in ran.stdout.splitlines() if line.strip()}
    assert rows["TINYCRM_SECRET"] == ["tinycrm", "environment", "***"]
    assert rows["TINYCRM_STORE"] == ["tinycrm", "environment", env["TINYCRM_STORE"]]
    assert "configured CRMs: tinycrm" in ran.stdout
    assert SECRET not in ran.stdout + ran.stderr


def test_a_webhook_of_the_third_party_crm_is_scored_and_written_back_through_serve(
    env: dict[str, str], serving: ServeProcess
) -> None:
    url = f"http://127.0.0.1:{serving.port}/webhooks/tinycrm"
    assert requests.post(url, data=b'["1"]', timeout=10).status_code == 401  # no secret, no event
    answer = requests.post(url, data=b'["1"]', headers={"X-Tiny-Secret": SECRET}, timeout=10)
    assert answer.status_code == 204
    assert wait_until(lambda: "leadtherm_temperature" in _contact(env), 30, step=0.2)
    contact = _contact(env)
    assert contact["leadtherm_temperature"] in ("hot", "warm")
    assert isinstance(contact["leadtherm_score"], int | float) and contact["leadtherm_score"] > 0
    assert requests.get(f"http://127.0.0.1:{serving.port}/healthz", timeout=5).status_code == 200
