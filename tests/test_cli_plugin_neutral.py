"""The CLI names no CRM of its own: it asks the installed plugins, and says which settings it read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEADTHERM = str(Path(sys.executable).parent / "leadtherm")
EXAMPLES = ROOT / "examples"
CLEARED = ("HUBSPOT_", "SALESFORCE_", "LEADTHERM_", "REQUESTS_CA_BUNDLE")


def _run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    return subprocess.run(
        [LEADTHERM, *args], capture_output=True, text=True, timeout=120, env={**clean, **env}, cwd=cwd, check=False
    )


def test_check_env_shows_where_each_setting_came_from_masks_secrets_and_lists_every_problem(tmp_path: Path) -> None:
    ran = _run(
        "check", "--env", cwd=tmp_path,
        HUBSPOT_ACCESS_TOKEN="pat-na1-very-secret", HUBSPOT_RATE_LIMIT="fast", LEADTHERM_MAX_RECEIVES="0",
        LEADTHERM_DB=str(tmp_path / "x.db"),
    )  # fmt: skip
    assert ran.returncode == 1, ran.stderr
    rows = {line.split()[0]: line.split()[1:] for line in ran.stdout.splitlines() if line.strip()}
    assert rows["HUBSPOT_ACCESS_TOKEN"] == ["hubspot", "environment", "***"]
    assert rows["LEADTHERM_DB"] == ["leadtherm", "environment", str(tmp_path / "x.db")]
    assert rows["LEADTHERM_BACKEND"] == ["leadtherm", "default", "sqlite"]
    assert rows["SALESFORCE_ORG_ID"] == ["salesforce", "unset"]
    assert "pat-na1-very-secret" not in ran.stdout + ran.stderr
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, ran.stderr  # both, not the first alone
    assert any("LEADTHERM_MAX_RECEIVES" in e for e in errors) and any("HUBSPOT_RATE_LIMIT" in e for e in errors)
    assert "/webhooks/hubspot cannot verify deliveries (HUBSPOT_CLIENT_SECRET not set) (warning)" in ran.stderr


def test_check_env_with_a_sound_environment_exits_0(tmp_path: Path) -> None:
    ran = _run("check", "--env", cwd=tmp_path, HUBSPOT_ACCESS_TOKEN="t", HUBSPOT_CLIENT_SECRET="s")
    assert ran.returncode == 0, ran.stderr
    assert "configured CRMs: hubspot" in ran.stdout


def test_score_without_crm_takes_the_crm_whose_record_id_the_header_has(tmp_path: Path) -> None:
    first_ids = {}
    for export in ("salesforce_leads.csv", "hubspot_contacts.csv"):
        ran = _run("score", str(EXAMPLES / export), "--format", "csv", "--as-of", "2026-11-01T00:00:00", cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        first_ids[export] = ran.stdout.splitlines()[1].split(",")[0]
    assert first_ids["salesforce_leads.csv"].startswith("00Q")  # a Lead id: read as Salesforce's
    assert first_ids["hubspot_contacts.csv"].isdigit()  # hs_object_id: read as HubSpot's


def test_score_without_crm_and_a_header_no_crm_reads_names_the_installed_ones(tmp_path: Path) -> None:
    (tmp_path / "other.csv").write_text("name,city\nAda,London\n")
    ran = _run("score", str(tmp_path / "other.csv"), cwd=tmp_path)
    assert ran.returncode == 2
    assert ran.stderr.startswith("error: which CRM? no CRM is configured and the export's header fits none")
    assert "hubspot" in ran.stderr and "salesforce" in ran.stderr


def test_listen_for_a_crm_whose_settings_turn_no_intake_on_is_exit_2(tmp_path: Path) -> None:
    ran = _run("listen", "hubspot", cwd=tmp_path, HUBSPOT_ACCESS_TOKEN="t", LEADTHERM_DB=str(tmp_path / "db"))
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.strip() == (
        "error: hubspot: no background intake is enabled (its settings turn them on: leadtherm check --env)"
    )
