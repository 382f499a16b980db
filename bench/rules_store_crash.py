"""Kill -9 during apply, the long run: hundreds of instants on the folder store, and the real console killed mid-Apply.

1. A forked child applies versions (two files changed together each time) and is killed at a
   random instant, 400 times; after each kill the folder must hold one version whole, and the
   next start must remove what the kill left. (`check`'s loader is left out of these applies so
   the kills fall on the writes; it runs on the folder every 20th kill.)
2. `leadtherm console` as a real process, its Apply of a draft changing two files killed at a
   random instant of the request, 30 times; each time the folder is checked with `check`'s
   loader, and the next console start must leave nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from harness.packaged_copy import copy_packaged
from harness.rules_store_crash import FILES, kill_during_applies, leftovers, marks, unchecked
from harness.servers import LEADTHERM
from integration.files.rules_folder import FolderRulesStore
from mappings.loader import check_folder
from tests.webhooks.console.conftest import csrf_of

SECRET = "bench-secret"
FORKED_KILLS, CONSOLE_KILLS = 400, 30


def _ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def apply_seconds(applies: int = 100) -> list[float]:
    """Seconds per uninterrupted apply of two changed files (without `check`'s loader), fsyncs included."""
    with tempfile.TemporaryDirectory() as tmp:
        store = FolderRulesStore(copy_packaged(Path(tmp) / "m"), check=unchecked)
        took = []
        for n in range(applies):
            files = store.current()
            started = time.perf_counter()
            store.apply({name: f"{files[name]}# {n}\n" for name in ("scoring.yaml", "hubspot.yaml")}, "bench")
            took.append(time.perf_counter() - started)
    return took


def forked_kills(kills: int = FORKED_KILLS) -> dict[str, int]:
    chance = random.Random(1919)
    counts = dict.fromkeys(["kills", "applied", "mixed", "not_a_version", "invalid", "left", "left_after_start"], 0)
    counts["checked"] = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_packaged(Path(tmp) / "m")
        for trial in range(kills):
            seen = kill_during_applies(folder, trial, chance.uniform(0.0, 0.1), check=trial % 20 == 19)
            counts["kills"] += 1
            counts["mixed"] += seen.mixed
            counts["not_a_version"] += not seen.matches_record
            counts["invalid"] += seen.valid is False
            counts["checked"] += seen.valid is not None
            counts["left"] += bool(seen.left)
            counts["left_after_start"] += bool(seen.left_after_start) or not seen.same_after_start
        counts["applied"] = FolderRulesStore(folder).head()
    return counts


class _Console:
    """`leadtherm console` on a free port over `folder`."""

    def __init__(self, folder: Path, tmp: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTHERM_", "HUBSPOT_", "SALESFORCE_"))}
        env |= {"LEADTHERM_ADMIN_SECRET": SECRET, "LEADTHERM_MAPPINGS": str(folder), "LEADTHERM_DB": str(tmp / "db")}
        self.process = subprocess.Popen(
            [LEADTHERM, "console", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True, cwd=tmp
        )
        assert self.process.stderr is not None
        line = ""
        while "console on" not in line:
            line = self.process.stderr.readline()
            if not line:
                raise RuntimeError("the console exited before serving")
        found = re.search(r"http://127\.0\.0\.1:(\d+)/admin/", line)
        assert found
        self.url = f"http://127.0.0.1:{found.group(1)}"
        self.http = requests.Session()
        token = csrf_of(self.http.get(f"{self.url}/admin/login", timeout=30).text)
        page = self.http.post(
            f"{self.url}/admin/login", data={"secret": SECRET, "name": "bench", "csrf_token": token}, timeout=30
        )
        self.token = csrf_of(page.text)

    def draft(self, folder: Path, mark: str) -> None:
        """Both scoring.yaml and hubspot.yaml, with one more line each, through the YAML editor."""
        for name in ("scoring.yaml", "hubspot.yaml"):
            text = f"{(folder / name).read_text(encoding='utf-8').rstrip()}\n# apply {mark}\n"
            self.http.post(f"{self.url}/admin/yaml/{name}", data={"text": text, "csrf_token": self.token}, timeout=60)

    def apply(self) -> None:
        with contextlib.suppress(requests.RequestException):  # killed mid-request
            self.http.post(f"{self.url}/admin/apply", data={"csrf_token": self.token}, timeout=120)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def console_kills(kills: int = CONSOLE_KILLS) -> tuple[dict[str, int], float]:
    """Kill the console during its Apply request; (counts, seconds of one uninterrupted Apply)."""
    chance = random.Random(19)
    counts = dict.fromkeys(["kills", "new_in_force", "mixed", "not_a_version", "invalid", "left_after_start"], 0)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = copy_packaged(tmp / "my-mappings")
        console = _Console(folder, tmp)
        console.draft(folder, "measure")
        started = time.perf_counter()
        console.apply()
        took = time.perf_counter() - started
        for trial in range(kills):
            console.draft(folder, f"c{trial}")
            head = FolderRulesStore(folder).head()
            request = threading.Thread(target=console.apply, daemon=True)
            request.start()
            time.sleep(chance.uniform(0.0, 1.2 * took))
            console.kill()
            request.join(timeout=30)
            on_disk = {n: (folder / n).read_text(encoding="utf-8") for n in FILES}
            store = FolderRulesStore(folder)
            counts["kills"] += 1
            counts["new_in_force"] += store.head() != head
            counts["mixed"] += marks(on_disk["scoring.yaml"]) != marks(on_disk["hubspot.yaml"])
            counts["not_a_version"] += store.version(store.head()).files != on_disk
            counts["invalid"] += check_folder(folder) != []
            console = _Console(folder, tmp)  # the next start
            counts["left_after_start"] += bool(leftovers(folder))
        console.kill()
    return counts, took


def run() -> str:
    applies = apply_seconds()
    forked = forked_kills()
    console, console_apply = console_kills()
    return f"""## Kill -9 during apply (folder rules store)

Each apply changes scoring.yaml and hubspot.yaml together; "mixed" counts folders holding one
file of a version and one of another, "not a version" folders whose files are not exactly the
head version's record, "left" kills after which a `.tmp` file or an unswitched version remained.

| run | kills | versions applied | mixed | not a version | invalid (`check`) | left after the next start |
|---|---|---|---|---|---|---|
| forked child applying in a loop, killed 0-100 ms after it starts | {forked["kills"]} | {forked["applied"]} | {forked["mixed"]} | {forked["not_a_version"]} | {forked["invalid"]} of {forked["checked"]} checked | {forked["left_after_start"]} (kills that left something: {forked["left"]}) |
| `leadtherm console` killed during its Apply request | {console["kills"]} | {console["new_in_force"]} kills after the switch | {console["mixed"]} | {console["not_a_version"]} | {console["invalid"]} of {console["kills"]} | {console["left_after_start"]} |

One uninterrupted apply of two files (the writes, fsyncs and the pointer's switch, without
`check`'s loader): p50 {_ms(applies, 0.5):.1f} ms, p99 {_ms(applies, 0.99):.1f} ms, mean
{1000 * statistics.fmean(applies):.1f} ms. One Apply through the console (with `check`'s loader):
{console_apply:.2f} s; its kills fall uniformly over 1.2 times that, most of them inside the loader's
check, before anything is written.
"""
