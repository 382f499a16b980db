"""`leadtherm calibrate` on the command line: reproducible files, a report, clear errors with exit code 2."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.calibration_data import write_history, write_mapping
from integration.cli import app
from mappings.loader import read_yaml, validate
from mappings.schema import ScoringRules
from tests.adapters.salesforce.conftest import password_env


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("history")
    return write_history(folder / "history.csv", rows=2500, seed=3), write_mapping(folder / "sheet.yaml")


def _run(history: Path, mapping: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        app, ["calibrate", str(history), "--mapping", str(mapping), "--outcome", "won", "--out", str(out), *extra]
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_same_file_and_seed_give_byte_identical_rules_and_a_report_with_charts(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    outputs = []
    for n in range(2):
        out, report = tmp_path / f"run{n}.yaml", tmp_path / f"report{n}.html"
        code, stdout, stderr = _run(*files, out, "--seed", "3", "--outcome-date", "closed_at", "--report", str(report))
        assert code == 0, stdout + stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    page = (tmp_path / "report0.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3
    assert "Holdout ROC AUC" in page and "Seniority: executive" in page


def test_the_terminal_shows_the_aucs_bands_points_and_leak_warning(files: tuple[Path, Path], tmp_path: Path) -> None:
    code, stdout, stderr = _run(*files, tmp_path / "rules.yaml")
    assert code == 0, stdout + stderr
    assert "integer points" in stdout and "learned shapes" in stdout and "current rules" in stdout
    assert "cold" in stdout and "executive" in stdout and "learned points" in stdout
    assert "column status (lead_status) = 'customer'" in " ".join(stderr.split())
    rules = validate(ScoringRules, read_yaml((tmp_path / "rules.yaml").read_text(), "r"), "r")
    assert rules.qualification.required == ["need", "budget", "authority", "timeline"]


def test_keep_leaky_learns_from_the_leaky_column_as_asked(files: tuple[Path, Path], tmp_path: Path) -> None:
    code, stdout, stderr = _run(*files, tmp_path / "rules.yaml", "--keep-leaky")
    assert code == 0, stdout + stderr
    assert "lead_status" in (tmp_path / "rules.yaml").read_text()


def _csv_edit(text: str, column: str, row: int, value: str) -> str:
    lines = text.splitlines()
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _single_class(text: str) -> str:
    lines = text.splitlines()
    return "\n".join([lines[0], *(line.rsplit(",", 1)[0] + ",0" for line in lines[1:])]) + "\n"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace(",won", ",outcome", 1), "no column 'won'"),
        (_single_class, "no lead converted (won is false for all 2500); a model needs both outcomes"),
        (lambda t: _csv_edit(t, "page_views", 7, "lots"), "row 8, column page_views: expected a number"),
        (lambda t: _csv_edit(t, "won", 4, "maybe"), "row 5, column won: outcome must be 1/0"),
        (lambda t: t.splitlines()[0] + "\n", "no rows to learn from"),
        (lambda t: "\n".join(t.splitlines()[:15]) + "\n", "lead(s) on one side of the outcome; at least 10"),
    ],
    ids=["no-outcome-column", "single-class", "not-a-number", "not-an-outcome", "no-rows", "too-few-to-split"],
)
def test_bad_input_gets_a_clear_error_naming_the_column_and_exit_code_2(
    files: tuple[Path, Path], tmp_path: Path, edit: object, message: str
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text(edit(files[0].read_text()))  # type: ignore[operator]
    code, stdout, stderr = _run(broken, files[1], tmp_path / "rules.yaml")
    assert code == 2
    assert message in " ".join(stderr.split())
    assert "Traceback" not in stdout + stderr
    assert not (tmp_path / "rules.yaml").exists()


def test_a_history_file_without_a_mapping_is_a_usage_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["calibrate", str(files[0]), "--outcome", "won"])
    assert result.exit_code == 2
    assert "needs --mapping" in " ".join(result.stderr.split())


def test_calibrating_from_hubspot_learns_from_contacts_and_their_won_deals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

    portal = HubSpotSandbox(access_token="calibrate-token", rate_limit=(10_000, 10.0))
    portal.start()
    try:
        rng = random.Random(9)
        for n in range(400):
            chief = n % 3 == 0
            # One contact a day over 400 days, as HubSpot records each contact's creation.
            created = f"{date(2025, 1, 1) + timedelta(days=n)}T09:00:00Z"
            contact = portal.create_contact(
                {"email": f"p{n}@acme.example", "jobtitle": "CEO" if chief else "Analyst", "createdate": created}
            )
            if rng.random() < (0.6 if chief else 0.1):
                deal = portal.create_deal({"dealname": f"Deal {n}", "amount": "9000"}, [contact])
                portal.update_deal(deal, {"dealstage": "closedwon"})
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "calibrate-token")
        monkeypatch.setenv("HUBSPOT_API_BASE", portal.base_url)
        out = tmp_path / "from-hubspot.yaml"
        result = CliRunner().invoke(app, ["calibrate", "hubspot", "--out", str(out), "--as-of", "2026-11-01T00:00:00"])
        assert result.exit_code == 0, result.output
        rules = validate(ScoringRules, read_yaml(out.read_text(), "scoring.yaml"), "scoring.yaml")
        assert next(r.points for r in rules.fit if r.label == "Seniority: executive") > 0
        # Measured forward in time by the CRM's own creation date: the last 120 days' contacts.
        stdout = " ".join(result.stdout.split())
        assert "holdout forward: trained on the 280 leads created before 2025-10-08, measured on the 120" in stdout
        assert "(by createdate)" in stdout
    finally:
        portal.stop()


def test_calibrating_from_salesforce_learns_from_converted_leads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

    org = SalesforceSandbox()
    org.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle_path)
    try:
        rng = random.Random(5)
        for n in range(400):
            chief = n % 3 == 0
            lead = org.create_lead({"Email": f"p{n}@acme.example", "Title": "CEO" if chief else "Analyst",
                                    "LeadSource": rng.choice(["Web", "Purchased List"])})  # fmt: skip
            if rng.random() < (0.6 if chief else 0.1):
                org.convert_lead(lead)
        for name, value in password_env(org).items():
            monkeypatch.setenv(name, value)
        out = tmp_path / "from-salesforce.yaml"
        result = CliRunner().invoke(
            app, ["calibrate", "salesforce", "--out", str(out), "--as-of", "2026-11-01T00:00:00"]
        )
        assert result.exit_code == 0, result.output
        rules = validate(ScoringRules, read_yaml(out.read_text(), "scoring.yaml"), "scoring.yaml")
        learned = {r.label: r.points for r in [*rules.fit, *rules.engagement, *rules.penalties]}
        executive = [p for label, p in learned.items() if "executive" in label.casefold()]
        assert executive and executive[0] > 0, learned
    finally:
        org.stop()
