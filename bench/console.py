"""The console: preview latency after an edit (200 records, through waitress), what-if time on 10,000 rows."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.calibration_data import write_history, write_mapping
from harness.packaged_copy import copy_packaged
from integration.calibration.history import read_history
from integration.domain.whatif import what_if
from integration.files.rules_folder import FolderRulesStore
from integration.service.rules_provider import parse_rules
from mappings.loader import PACKAGED, load_file
from mappings.schema import CrmMapping
from tests.webhooks.console.conftest import csrf_of, log_in_at, serve_app
from webhooks.console import ConsoleConfig, create_console_app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "bench-secret"
PREVIEW_TARGET_MS, WHATIF_TARGET_S = 300.0, 5.0


@contextmanager
def _console(folder: Path) -> Iterator[str]:
    yield from serve_app(create_console_app(ConsoleConfig(secret=SECRET, store=FolderRulesStore(folder))))


def preview_latencies(edits: int = 60, records: int = 200) -> list[float]:
    """Seconds per points edit answered with the re-rendered preview of `records` uploaded records."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_packaged(Path(tmp) / "mappings")
        lines = (EXAMPLES / "hubspot_contacts.csv").read_text(encoding="utf-8").splitlines()
        export = "\n".join(lines[: records + 1]) + "\n"
        with _console(folder) as url:
            http, page = log_in_at(url, SECRET)
            token = csrf_of(page.text)
            http.post(f"{url}/admin/records", data={"crm": "hubspot", "csrf_token": token},
                      files={"export": ("export.csv", export.encode(), "text/csv")}, timeout=30)  # fmt: skip
            took: list[float] = []
            for n in range(edits):
                started = time.perf_counter()
                answer = http.post(
                    f"{url}/admin/rules/points",
                    data={"axis": "fit", "index": str(n % 10), "points": str(5 + n % 20), "csrf_token": token},
                    headers={"X-Requested-With": "fetch"},
                    timeout=30,
                )
                took.append(time.perf_counter() - started)
                assert f"of {records} records change" in answer.json()["preview"]
    return took


def whatif_seconds(rows: int = 10_000) -> tuple[float, float]:
    """(seconds to read the history, seconds for the what-if of an edit) on `rows` leads."""
    with tempfile.TemporaryDirectory() as tmp:
        history_file = write_history(Path(tmp) / "history.csv", rows=rows)
        mapping = load_file(CrmMapping, write_mapping(Path(tmp) / "sheet.yaml"))
        started = time.perf_counter()
        history = read_history(history_file, mapping, "won", "closed_at")
        read_s = time.perf_counter() - started
    current = parse_rules((PACKAGED / "scoring.yaml").read_text(encoding="utf-8"))
    edited = parse_rules((PACKAGED / "scoring.yaml").read_text(encoding="utf-8").replace("points: 25", "points: 60", 1))
    started = time.perf_counter()
    result = what_if(history, current, edited)
    assert result.leads == rows
    return read_s, time.perf_counter() - started


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def run() -> str:
    took = preview_latencies()
    read_s, whatif_s = whatif_seconds()
    p95_ms, p50_ms = 1000 * p95(took), 1000 * statistics.median(took)
    preview_verdict = "meets" if p95_ms < PREVIEW_TARGET_MS else "MISSES"
    whatif_verdict = "meets" if whatif_s < WHATIF_TARGET_S else "MISSES"
    return f"""## Admin console

| measure | value | target |
|---|---|---|
| preview after a points edit, 200 records (POST through waitress, draft re-validated, both rule sets assessed, table rendered), p50 | {p50_ms:.0f} ms | |
| same, p95 over {len(took)} edits | **{p95_ms:.0f} ms** ({preview_verdict} the target) | under {PREVIEW_TARGET_MS:.0f} ms |
| what-if of an edit on 10,000 history rows (both rule sets on every lead, holdout AUC, bands, lift, moves) | **{whatif_s:.2f} s** ({whatif_verdict} the target) | under {WHATIF_TARGET_S:.0f} s |
| reading those 10,000 rows through the mapping (upload, once per history) | {read_s:.2f} s | |
"""
