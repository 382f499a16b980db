"""The README's walkthroughs against the sandboxes run as written (issue 20, item 11).

Each walkthrough is the code block after a `<!-- walkthrough: NAME` comment in README.md. Its
lines run through bash with the installed `leadtherm` on PATH, in one folder (so one
`./leadtherm.db`), with the `export` lines the sandbox printed as the environment, as a user
pasting them into their shells would. `leadtherm sandbox`, `serve` and `listen` stay running
in the background; every other line must exit 0. The one liberty: the README's fixed ports are
swapped for free ones, as tests share the machine. A command after the rep's `curl` is the
README's "a moment later": it is also run just before the curl, and must show a changed first
line within a minute.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.waiting import wait_until

from tests.sandbox_process import TRACEBACK, SandboxProcess, clean_env, free_port_pair

README = Path(__file__).resolve().parent.parent / "README.md"
BACKGROUND = ("sandbox", "serve", "listen")


def walkthrough(name: str) -> list[str]:
    """The command lines of the README's walkthrough NAME."""
    text = README.read_text(encoding="utf-8")
    marker = text.index(f"<!-- walkthrough: {name}")
    block = re.search(r"```\n(.*?)```", text[marker:], re.DOTALL)
    assert block is not None, f"no code block after the {name} walkthrough marker"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _with_free_ports(lines: list[str]) -> list[str]:
    ports = sorted({int(p) for line in lines for p in re.findall(r"(?:--port |127\.0\.0\.1:)(\d{4})\b", line)})
    swap = {port: free_port_pair() for port in ports}
    swapped = []
    for line in lines:
        for old, new in swap.items():
            line = re.sub(rf"\b{old}\b", str(new), line)
        swapped.append(line)
    return swapped


class Walk:
    """Runs a walkthrough's lines one by one, keeping the background processes until `stop`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = clean_env()
        self.background: list[subprocess.Popen[str]] = []
        self.sandbox: SandboxProcess | None = None

    def bash(self, line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, env=self.env, cwd=self.folder, timeout=300
        )

    def start(self, line: str, words: list[str]) -> None:
        if words[1] == "sandbox":
            self.sandbox = SandboxProcess(["bash", "-c", f"exec {line}"], env=self.env, cwd=self.folder)
            self.env.update(self.sandbox.settings)
            return
        process = subprocess.Popen(
            ["bash", "-c", f"exec {line}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.folder,
        )
        self.background.append(process)
        assert process.stderr is not None
        for said in process.stderr:  # serve logs where it serves, listen what it listens to
            if " serving " in said or "listening to" in said:
                break
        else:
            raise AssertionError(f"{line!r} did not start")
        if words[1] == "listen":
            # listen logs before its stream is subscribed, and a change made before that is not replayed
            # (it starts at the newest event): give it the seconds a person takes to switch shells.
            time.sleep(3)
        if words[1] == "serve":
            port = words[words.index("--port") + 1]
            assert wait_until(lambda: _healthy(port), 30, step=0.1), f"{line!r} is not healthy"

    def stop(self) -> list[str]:
        said: list[str] = []
        for process in reversed(self.background):
            process.send_signal(signal.SIGTERM)
            _, rest = process.communicate(timeout=30)
            said.append(rest)
        if self.sandbox is not None:
            said.extend(self.sandbox.stop())
        return said


def _healthy(port: str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hubspot", "salesforce"])
def test_the_readme_walkthrough_runs_as_written_against_the_sandbox(name: str, tmp_path: Path) -> None:
    lines = _with_free_ports(walkthrough(name))
    walk = Walk(tmp_path)
    try:
        after_curl: str | None = None
        for index, line in enumerate(lines):
            words = shlex.split(line, comments=True)
            if words[0] == "leadtherm" and words[1] in BACKGROUND:
                walk.start(line, words)
                continue
            if words[0] == "curl":
                later = lines[index + 1] if index + 1 < len(lines) else None
                before = walk.bash(later).stdout.splitlines()[:1] if later else []
                done = walk.bash(line)
                assert done.returncode == 0 and '"by": "rep"' in done.stdout, f"{line}: {done.stdout}{done.stderr}"
                after_curl = later

                def changed(command: str = later or "", first: list[str] = before) -> bool:
                    again = walk.bash(command)
                    return again.returncode == 0 and again.stdout.splitlines()[:1] != first

                assert later is None or wait_until(changed, 60, step=1.0), f"{later!r} shows no change after the curl"
                continue
            if line == after_curl:
                continue  # checked with the curl
            done = walk.bash(line)
            assert done.returncode == 0, f"{line!r} exited {done.returncode}: {done.stdout[-2000:]}{done.stderr}"
            assert TRACEBACK not in done.stderr
    finally:
        said = walk.stop()
    assert not any(TRACEBACK in text for text in said)


def _readme_text() -> str:
    """The README with its line breaks and indentation folded to single spaces (quotes there wrap)."""
    return " ".join(README.read_text(encoding="utf-8").split())


def _quoted_in_readme(example: str) -> str:
    assert f"`{example}`" in _readme_text(), f"the README no longer quotes {example!r}"
    return example


def test_the_error_examples_the_readme_quotes_are_what_the_cli_prints(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    packaged = Path(__file__).resolve().parent.parent / "mappings"
    env = clean_env()

    def leadtherm(*args: str, **extra: str) -> str:
        done = subprocess.run(
            ["leadtherm", *args], capture_output=True, text=True, env={**env, **extra}, cwd=tmp_path, timeout=120
        )
        assert TRACEBACK not in done.stderr
        return " ".join((done.stdout + done.stderr).split())

    wrong_crm = _quoted_in_readme(
        "no hs_object_id column (the hubspot record id), so not a hubspot export; its header looks like "
        "a salesforce export: use --crm salesforce"
    )
    assert wrong_crm in leadtherm("score", str(examples / "salesforce_leads.csv"), "--crm", "hubspot")

    rows = (examples / "hubspot_contacts.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    cells = rows[13].split(",")  # row 14 of the file, the header being row 1
    cells[header.index("hs_analytics_num_page_views")] = "lots"
    rows[13] = ",".join(cells)
    (tmp_path / "contacts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    bad_row = _quoted_in_readme("row 14, column hs_analytics_num_page_views: expected a number (row skipped)")
    assert bad_row in leadtherm("score", "contacts.csv", "--crm", "hubspot", "--format", "csv")

    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for source in packaged.glob("*.yaml"):
        (mappings / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (mappings / "hubspot.yaml").rename(mappings / "hubspot.yml")
    scoring = (mappings / "scoring.yaml").read_text(encoding="utf-8").splitlines()
    warm = next(i for i, line in enumerate(scoring) if line.lstrip().startswith("warm:"))
    scoring.insert(warm + 1, scoring[warm])  # the same key twice, on the line after the first
    (mappings / "scoring.yaml").write_text("\n".join(scoring) + "\n", encoding="utf-8")
    checked = leadtherm("check", LEADTHERM_MAPPINGS=str(mappings))
    assert _quoted_in_readme("hubspot.yaml: missing (found hubspot.yml: rename it to hubspot.yaml)") in checked
    duplicate = _quoted_in_readme(f"temperature.warm: duplicate key (first on line {warm + 1})")
    assert duplicate in checked
