"""The first mistakes a new user makes (issue #13), each through the installed `leadtherm` in a subprocess.

Every case asserts the documented exit code (0 ok, 1 the job failed, 2 bad usage or invalid
configuration), the first line the person reads, and that no output is a Python traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.sqlite import Database, SqliteWorkQueue
from harness.calibration_data import write_history, write_mapping
from harness.packaged_copy import copy_packaged
from integration.ports import ChangeEvent, RecordRef

ROOT = Path(__file__).resolve().parent.parent
LEADTHERM = str(Path(sys.executable).parent / "leadtherm")
EXAMPLES = ROOT / "examples"
TRACEBACK = "Traceback (most recent call last)"
# Variables a developer's shell (or another test) may hold that would change what a command sees.
CLEARED = ("HUBSPOT_", "SALESFORCE_", "LEADTHERM_", "REQUESTS_CA_BUNDLE", "COLUMNS")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def first_line(self) -> str:
        """What the person reads first: the first line of stderr when there is one, else of stdout."""
        lines = (self.stderr or self.stdout).splitlines()
        return lines[0] if lines else ""


def leadtherm(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> Ran:
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    done = subprocess.run(
        [LEADTHERM, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
        cwd=cwd,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


# ---------------------------------------------------------------------------- the world a case needs


@dataclass
class World:
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    held: list[socket.socket] = field(default_factory=list)

    def database(self) -> str:
        """Create the (empty) database LEADTHERM_DB names, as a `serve` that ran here would have."""
        Database(Path(self.env["LEADTHERM_DB"]))
        return self.env["LEADTHERM_DB"]

    def busy_port(self) -> str:
        """A port another program listens on, for as long as the case runs."""
        other = socket.socket()
        other.bind(("127.0.0.1", 0))
        other.listen()
        self.held.append(other)
        return str(other.getsockname()[1])

    def mappings(self, edit: Callable[[Path], None] | None = None) -> Path:
        folder = copy_packaged(self.tmp / "mappings")
        if edit is not None:
            edit(folder)
        return folder

    def cp1252_export(self) -> Path:
        text = (EXAMPLES / "hubspot_contacts.csv").read_text(encoding="utf-8")
        text = text.replace(",Tara,Nowak,", ",Tara,Müller,", 1).replace(",Sweden,", ",Göteborg,", 1)
        path = self.tmp / "excel-contacts.csv"
        path.write_bytes(text.encode("cp1252"))
        return path


def _edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))

    return edit


def _rename(old: str, new: str | None) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        if new is None:
            (folder / old).unlink()
        else:
            (folder / old).rename(folder / new)

    return edit


def _both(first: Callable[[Path], None], second: Callable[[Path], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        first(folder)
        second(folder)

    return edit


_typo_in_transform = _edit("hubspot.yaml", "transform: lower}", "transform: postive}")
_typo_in_attribute = _edit("hubspot.yaml", "  page_views:", "  page_veiws:")


def _no_rules(folder: Path) -> None:
    text = (folder / "scoring.yaml").read_text()
    kept = text.split("\nfit:\n")[0]
    actions = "\nnext_actions:" + text.split("\nnext_actions:")[1]
    (folder / "scoring.yaml").write_text(kept + actions)


@dataclass(frozen=True)
class Case:
    id: str
    command: Callable[[World], list[str]]
    code: int
    first_line: str  # a regular expression the first line must match from its start
    env: dict[str, str] = field(default_factory=dict)
    also: tuple[str, ...] = ()  # further text that must appear in the output
    absent: tuple[str, ...] = ()  # text that must not


def _setup_env(token: str = "") -> dict[str, str]:
    return {"HUBSPOT_ACCESS_TOKEN": token} if token else {}


CASES = [
    # PATH / help
    Case("help-has-no-bool", lambda w: ["score", "--help"], 0, r"Usage: leadtherm score", absent=("<bool>",)),
    Case("unknown-option", lambda w: ["score", "--colour"], 2, r"error: No such option: --colour"),
    # Tracebacks
    Case(
        "score-cp1252-export",
        lambda w: ["score", str(w.cp1252_export()), "--format", "csv"],
        0,
        r".*excel-contacts\.csv: not UTF-8; read as cp1252",
    ),
    Case(
        "score-export-in-a-named-encoding",
        lambda w: ["score", str(w.cp1252_export()), "--format", "csv", "--encoding", "latin-1"],
        0,
        r"id,score,fit,engagement",
    ),
    Case(
        "score-export-in-the-wrong-named-encoding",
        lambda w: ["score", str(w.cp1252_export()), "--encoding", "utf-8"],
        2,
        r"error: .*excel-contacts\.csv:2: not valid utf-8 text; pass --encoding",
    ),
    Case("demo-no-contacts", lambda w: ["demo", "--contacts", "0"], 2, r"error: Invalid value for '--contacts'"),
    # check
    Case(
        "check-ignores-other-yaml-files",
        lambda w: ["check", str(w.mappings(lambda f: shutil.copy(f / "scoring.yaml", f / "old-scoring.yaml")))],
        0,
        r"not checked, leadtherm does not read them: old-scoring\.yaml",
        also=("valid: ",),
    ),
    Case(  # scoring.<name>.yaml is a named score (README, "Named scores"): a backup under that name says so
        "check-scoring-copy-is-a-named-score",
        lambda w: ["check", str(w.mappings(lambda f: shutil.copy(f / "scoring.yaml", f / "scoring.backup.yaml")))],
        2,
        r".*scoring\.backup\.yaml segment: is required: scoring\.backup\.yaml is the named score 'backup'",
    ),
    Case(
        "check-misnamed-mapping",
        lambda w: ["check", "--mappings", str(w.mappings(_rename("hubspot.yaml", "hubspot.yml")))],
        2,
        r".*hubspot\.yaml: missing \(found hubspot\.yml: rename it to hubspot\.yaml\)",
    ),
    Case(
        "check-missing-mapping",
        lambda w: ["check", "--mappings", str(w.mappings(_rename("salesforce.yaml", None)))],
        2,
        r".*salesforce\.yaml: missing \(no such file\)",
        also=("1 problem(s) found; checked",),
    ),
    Case("check-one-file", lambda w: ["check", str(w.mappings() / "scoring.yaml")], 0, r"valid: .*scoring\.yaml$"),
    Case(
        "check-duplicate-key",
        lambda w: ["check", str(w.mappings(_edit("scoring.yaml", "  warm: 40 ", "  warm: 40\n  warm: 55 ")))],
        2,
        r".*scoring\.yaml:\d+ temperature\.warm: duplicate key \(first on line \d+\)",
    ),
    Case(
        "check-points-out-of-range",
        lambda w: ["check", str(w.mappings(_edit("scoring.yaml", "    points: 25\n", "    points: 180\n")))],
        2,
        r".*scoring\.yaml:\d+ fit\[0\]\.points: must be at most 100 \(got 180\)",
    ),
    Case(
        "check-no-rules-warns",
        lambda w: ["check", str(w.mappings(_no_rules))],
        0,
        r".*scoring\.yaml: no rules in fit, engagement or penalties: every lead scores 0 \(cold\) \(warning\)",
    ),
    Case(
        "check-every-problem-at-once",
        lambda w: ["check", str(w.mappings(_both(_typo_in_transform, _typo_in_attribute)))],
        2,
        r".*hubspot\.yaml:\d+ attributes\.industry\.transform: must be one of .* \(got 'postive'\)",
        also=("attributes.page_veiws: unknown attribute 'page_veiws'", "2 problem(s) found"),
    ),
    Case(
        "check-rule-problem-on-the-rule-line",
        lambda w: ["check", str(w.mappings(_edit("scoring.yaml", "    points: 30\n", "    points: -30\n")))],
        2,
        r".*scoring\.yaml:\d+ engagement\[0\]: rule '.*': engagement points must be >= 0",
    ),
    # exit codes
    Case("setup-without-token", lambda w: ["setup", "hubspot"], 2, r"error: environment variable HUBSPOT_ACCESS_TOKEN"),
    Case(
        "backfill-without-token",
        lambda w: ["backfill", "hubspot"],
        2,
        r"error: environment variable HUBSPOT_ACCESS_TOKEN",
    ),
    Case(
        "sweep-without-token",
        lambda w: ["sweep", "--crm", "hubspot"],
        2,
        r"error: environment variable HUBSPOT_ACCESS_TOKEN",
    ),
    Case("sweep-nothing-configured", lambda w: ["sweep"], 2, r"error: no CRM is configured"),
    *[
        Case(
            f"{cmd[0]}-unknown-crm",
            lambda w, cmd=cmd: list(cmd),
            2,
            r"error: unknown CRM 'pipedrive' \(known: hubspot, salesforce\)",
        )
        for cmd in (
            ("score", "x.csv", "--crm", "pipedrive"),
            ("sweep", "--crm", "pipedrive"),
            ("backfill", "pipedrive"),
            ("setup", "pipedrive"),
            ("explain", "pipedrive", "51"),
            ("calibrate", "pipedrive"),
        )
    ],
    Case(
        "demo-unknown-crm",
        lambda w: ["demo", "--crm", "pipedrive"],
        2,
        r"error: Invalid value for '--crm': no demo sandbox for 'pipedrive' \(known: hubspot, salesforce\)",
    ),
    Case("score-missing-file", lambda w: ["score", str(w.tmp / "nope.csv")], 2, r"error: .*nope\.csv: no such file"),
    Case("score-a-folder", lambda w: ["score", str(w.tmp)], 2, r"error: .*: is a folder; give an export file"),
    Case(
        "dlq-replay-unknown-id",
        lambda w: [w.database() and "dlq", "replay", "nonexistent-id"],
        2,
        r"database: .*leadtherm\.db$",
        also=("error: not in the dead-letter queue: nonexistent-id",),
    ),
    Case(
        "explain-unknown-id-as-dlq-replay",
        lambda w: [w.database() and "explain", "hubspot", "51"],
        2,
        r"database: .*leadtherm\.db$",
        also=("error: no assessment stored for hubspot record 51 in ",),
    ),
    # commands that only read name the database and never create one
    *[
        Case(
            f"{'-'.join(cmd[:2])}-without-a-database",
            lambda w, cmd=cmd: list(cmd),
            2,
            r"error: no leadtherm database at .*leadtherm\.db \(from LEADTHERM_DB; point LEADTHERM_DB at",
        )
        for cmd in (("dlq", "list"), ("dlq", "replay"), ("explain", "hubspot", "51"))
    ],
    # busy ports: one line and exit 2, as `serve` says it
    Case(
        "console-busy-port",
        lambda w: ["console", "--port", w.busy_port(), "--mappings", str(w.mappings())],
        2,
        r"error: cannot listen on 127\.0\.0\.1:\d+: the port is already in use",
        env={"LEADTHERM_ADMIN_SECRET": "s" * 32},
    ),
    Case(
        "sandbox-busy-port",
        lambda w: ["sandbox", "hubspot", "--port", w.busy_port()],
        2,
        r"error: cannot listen on 127\.0\.0\.1:\d+: the port is already in use",
        absent=("Werkzeug", "Either identify"),
    ),
    # CRM names in any case
    Case(
        "score-crm-capitalised",
        lambda w: ["score", str(EXAMPLES / "hubspot_contacts.csv"), "--crm", "HubSpot", "--format", "csv"],
        0,
        r"id,score,fit,engagement",
    ),
    Case(
        "setup-crm-capitalised",
        lambda w: ["setup", "HubSpot"],
        2,
        r"error: environment variable HUBSPOT_ACCESS_TOKEN",
    ),
    Case(
        "sweep-crm-capitalised",
        lambda w: ["sweep", "--crm=SalesForce"],
        2,
        r"error: environment variable SALESFORCE_",
    ),
    Case(
        "explain-crm-capitalised",
        lambda w: [w.database() and "explain", "HUBSPOT", "51"],
        2,
        r"database: ",
        also=("no assessment stored for hubspot record 51",),
    ),
    Case(
        "check-missing-folder",
        lambda w: ["check", "--mappings", str(w.tmp / "no-such-folder")],
        2,
        r".*no-such-folder: no such folder",
        also=("1 problem(s) found\n",),
        absent=("checked",),
    ),
    # messages that point the right way
    Case(
        "salesforce-url-without-token",
        lambda w: ["setup", "salesforce"],
        2,
        r"error: environment variable SALESFORCE_ACCESS_TOKEN is not set \(SALESFORCE_INSTANCE_URL is set",
        env={"SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com"},
    ),
    Case(
        "malformed-rate-limit",
        lambda w: ["backfill", "hubspot"],
        2,
        r"error: environment variable HUBSPOT_RATE_LIMIT is not valid: expected requests/seconds",
        env={"HUBSPOT_ACCESS_TOKEN": "pat-x", "HUBSPOT_RATE_LIMIT": "fast"},
    ),
    Case(
        "api-base-not-a-url",
        lambda w: ["setup", "hubspot"],
        2,
        r"error: environment variable HUBSPOT_API_BASE is not valid: expected a URL",
        env={"HUBSPOT_ACCESS_TOKEN": "pat-x", "HUBSPOT_API_BASE": "not-a-url"},
        absent=("urllib3", "Warning"),
    ),
    # the wrong export for --crm, wrong headers
    Case(
        "salesforce-export-as-hubspot",
        lambda w: ["score", str(EXAMPLES / "salesforce_leads.csv"), "--crm", "hubspot"],
        2,
        r"error: .*salesforce_leads\.csv: no hs_object_id column .* "
        r"looks like a salesforce export: use --crm salesforce",
        absent=("row skipped",),
    ),
    Case(
        "export-with-unrelated-headers",
        lambda w: ["score", str(_write(w.tmp / "sheet.csv", "hs_object_id,colour,size\n1,red,9\n2,blue,3\n"))],
        2,
        r"error: .*sheet\.csv: none of the columns the hubspot mapping reads is in the header",
    ),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_first_mistake_gets_one_clear_line_and_the_documented_exit_code(case: Case, tmp_path: Path) -> None:
    world = World(tmp_path, {"LEADTHERM_DB": str(tmp_path / "leadtherm.db"), **case.env})
    try:
        ran = leadtherm(*case.command(world), env=world.env, cwd=tmp_path)
    finally:
        for held in world.held:
            held.close()
    output = ran.stdout + ran.stderr
    assert ran.code == case.code, output
    assert re.match(case.first_line, ran.first_line), ran.first_line
    assert TRACEBACK not in output
    for text in case.also:
        assert text in output
    for text in case.absent:
        assert text not in output


def test_the_wrong_export_is_one_line_not_one_per_row() -> None:
    ran = leadtherm("score", str(EXAMPLES / "salesforce_leads.csv"), "--crm", "hubspot")
    assert ran.code == 2 and len(ran.stderr.splitlines()) == 1 and ran.stdout == ""


def test_a_column_bad_in_many_rows_is_shown_three_times_then_counted(tmp_path: Path) -> None:
    lines = (EXAMPLES / "hubspot_contacts.csv").read_text().splitlines()
    column = lines[0].split(",").index("hs_analytics_num_page_views")
    broken = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        cells[column] = "lots"
        broken.append(",".join(cells))
    export = _write(tmp_path / "contacts.csv", "\n".join(broken) + "\n")
    ran = leadtherm("score", str(export), "--format", "csv")
    assert ran.code == 1
    errors = ran.stderr.splitlines()
    assert len([e for e in errors if e.endswith("(row skipped)")]) == 3
    assert "column hs_analytics_num_page_views: expected a number in 237 more row(s)" in ran.stderr
    assert errors[-1] == "240 row(s) skipped, 0 scored"


def test_a_cp1252_history_calibrates_and_says_how_it_was_read(tmp_path: Path) -> None:
    history = write_history(tmp_path / "history.csv", rows=600, seed=3)
    history.write_bytes(history.read_text(encoding="utf-8").replace("Retail", "Détail").encode("cp1252"))
    mapping = write_mapping(tmp_path / "sheet.yaml")
    out = tmp_path / "rules.yaml"
    ran = leadtherm("calibrate", str(history), "--mapping", str(mapping), "--outcome", "won", "--out", str(out))
    assert ran.code == 0, ran.stderr
    assert ran.first_line.endswith("history.csv: not UTF-8; read as cp1252 (pass --encoding to choose)")
    assert TRACEBACK not in ran.stderr and out.is_file()
    checked = leadtherm("check", str(out))  # as the README promises for calibrate's output
    assert checked.code == 0 and checked.first_line.startswith("valid: ") and "rules.yaml" in checked.first_line


# ---------------------------------------------------------------------------- against the sandboxes


@pytest.fixture
def hubspot() -> Iterator[dict[str, str]]:
    sandbox = HubSpotSandbox(access_token="pat-first-mistakes")
    base = sandbox.start()
    for n in range(30):  # contacts and no won deal at all
        sandbox.create_contact({"email": f"person{n}@example.com", "jobtitle": "CEO"})
    yield {"HUBSPOT_ACCESS_TOKEN": "pat-first-mistakes", "HUBSPOT_API_BASE": base}
    sandbox.stop()


def test_calibrating_a_portal_without_won_deals_says_no_lead_converted(hubspot: dict[str, str], tmp_path: Path) -> None:
    ran = leadtherm("calibrate", "hubspot", "--out", str(tmp_path / "rules.yaml"), env=hubspot)
    assert ran.code == 2
    assert ran.first_line == (
        "error: hubspot: no lead converted (has_won_deal is false for all 30); a model needs both outcomes"
    )


def test_an_untrusted_salesforce_certificate_says_to_set_salesforce_ca_bundle() -> None:
    sandbox = SalesforceSandbox()
    try:
        base = sandbox.start()
        token, _ = sandbox.issue_session()
        ran = leadtherm("setup", "salesforce", env={"SALESFORCE_INSTANCE_URL": base, "SALESFORCE_ACCESS_TOKEN": token})
    finally:
        sandbox.stop()
    assert ran.code == 1
    assert ran.first_line.startswith(
        "error: Salesforce's TLS certificate is not trusted (SSLError): set SALESFORCE_CA_BUNDLE"
    )
    assert TRACEBACK not in ran.stderr


def test_output_to_a_pipe_does_not_wrap_at_80_columns(tmp_path: Path) -> None:
    db = Database(tmp_path / "leadtherm.db")
    queue = SqliteWorkQueue(db)
    long_id = "0035g00000AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    queue.enqueue([ChangeEvent("sf:1", RecordRef("salesforce", "Contact", long_id))])
    queue.dead_letter(queue.lease(10, 30), "Salesforce rejected the request: INVALID_FIELD: No such column " + "x" * 60)
    ran = leadtherm("dlq", "list", env={"LEADTHERM_DB": str(tmp_path / "leadtherm.db")})
    assert ran.code == 0
    assert long_id in ran.stdout and "x" * 60 in ran.stdout
    error = leadtherm("setup", "salesforce", env={"SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com"})
    assert len(error.stderr.splitlines()) == 1 and len(error.stderr) > 80


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_sandbox_runs_on_its_own_on_the_port_asked_and_setup_works_against_it(tmp_path: Path) -> None:
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    sandbox = subprocess.Popen(
        [LEADTHERM, "sandbox", "hubspot", "--port", str(port), "--records", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=base,
    )
    try:
        assert sandbox.stdout is not None
        settings: dict[str, str] = {}
        for line in sandbox.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                settings[name] = value
            if line.startswith("then "):
                break
        assert settings["HUBSPOT_API_BASE"] == f"http://127.0.0.1:{port}"
        ran = leadtherm("setup", "hubspot", env=settings, cwd=tmp_path)
        assert ran.code == 0, ran.stderr
        assert "created" in ran.stdout
    finally:
        sandbox.send_signal(signal.SIGINT)
        rest, _ = sandbox.communicate(timeout=30)
    assert sandbox.returncode == 0 and TRACEBACK not in rest and "sandbox stopped" in rest


def test_a_sandbox_on_a_port_out_of_range_is_bad_usage() -> None:
    ran = leadtherm("sandbox", "salesforce", "--port", "99999")
    assert ran.code == 2 and ran.first_line.startswith("error: Invalid value for '--port'")


@pytest.mark.slow
def test_ctrl_c_ends_the_demo_with_its_summary(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    demo = subprocess.Popen(
        [LEADTHERM, "demo", "--crm", "hubspot", "--contacts", "10", "--duration", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=base,
        cwd=tmp_path,
    )
    assert demo.stdout is not None
    for line in demo.stdout:
        if line.startswith("serving on "):
            break
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    assert "leadtherm demo: summary" in rest and TRACEBACK not in rest, (demo.returncode, rest)
    assert rest.count("HubSpot: 10 records") == 1  # the final table once, with the summary


# ---------------------------------------------------------------------------- the README, as written

README = (ROOT / "README.md").read_text()


def _block_after(marker: str) -> list[str]:
    """The lines of the first fenced block after `marker`."""
    rest = README[README.index(marker) :]
    start = rest.index("```\n") + 4
    return rest[start : rest.index("```", start)].splitlines()


def test_every_leadtherm_line_of_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    lines = _block_after("## Quick start")
    assert ". .venv/bin/activate" in lines  # what to type once, before the commands
    commands = [line for line in lines if line.startswith("leadtherm ")]
    assert commands
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env["PATH"] = f"{Path(LEADTHERM).parent}{os.pathsep}{env.get('PATH', '')}"  # what `activate` does
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, (command, done.stderr)
        assert TRACEBACK not in done.stderr


def test_the_readme_check_example_is_what_check_prints(tmp_path: Path) -> None:
    marker = "$ leadtherm check --mappings ./my-mappings\n"
    rest = README[README.index(marker) + len(marker) :]
    block = rest[: rest.index("```")].splitlines()
    folder = copy_packaged(tmp_path / "my-mappings")
    scoring = (folder / "scoring.yaml").read_text().replace("  warm: 40", "  warm: 80")
    lines = scoring.splitlines()
    engagement = lines.index("engagement:")
    rule_starts = [n for n in range(engagement, len(lines)) if lines[n].startswith("  - label:")]
    points = next(n for n in range(rule_starts[3], len(lines)) if lines[n].strip().startswith("points:"))
    lines[points] = "    points: ten"
    (folder / "scoring.yaml").write_text("\n".join(lines) + "\n")
    hubspot = (folder / "hubspot.yaml").read_text()
    first_pattern = next(line for line in hubspot.splitlines() if line.startswith("  - pattern:"))
    hubspot = hubspot.replace(first_pattern, "  - pattern: '(ceo'").replace("  page_views:", "  page_veiws:")
    (folder / "hubspot.yaml").write_text(hubspot)
    ran = leadtherm("check", "--mappings", "./my-mappings", cwd=tmp_path)
    assert ran.code == 2
    assert ran.stderr.splitlines() == block[:-2] and block[-2] == "$ leadtherm check"
    assert leadtherm("check", cwd=ROOT).stdout.strip() == block[-1]


def test_values_outside_a_map_are_counted_by_column_never_shown(tmp_path: Path) -> None:
    lines = (ROOT / "examples" / "hubspot_contacts.csv").read_text().splitlines()[:6]
    header = lines[0].split(",")
    for n in (2, 4):
        cells = lines[n].split(",")
        cells[header.index("numemployees")] = "5000-10000"
        lines[n] = ",".join(cells)
    export = tmp_path / "contacts.csv"
    export.write_text("\n".join(lines) + "\n")
    ran = leadtherm("score", str(export), "--crm", "hubspot", "--format", "csv")
    assert ran.code == 0
    assert "column numemployees: 2 row(s) hold a value its map does not list" in ran.stderr
    assert "5000-10000" not in ran.stderr
