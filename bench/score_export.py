"""`leadtherm score` on a 200,000-row export against a plain CSV read-and-write of the same file."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROWS = 200_000
ROUNDS = 3  # the best of three for every command: the machine is shared
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hubspot_contacts.csv"
LEADTHERM = str(Path(sys.executable).parent / "leadtherm")
CSV_RATIO, TABLE_RATIO, PEAK_MB = 3.0, 2.0, 100.0
# The baseline a user would write: the csv module reading every row and writing it back out.
PLAIN = (
    "import csv, sys; csv.writer(sys.stdout, lineterminator='\\n').writerows(csv.reader(open(sys.argv[1], newline='')))"
)


COUNTERS = ("hs_analytics_num_page_views", "hs_analytics_num_visits", "num_conversion_events", "hs_email_open",
            "hs_email_click", "hs_email_replied")  # fmt: skip
LAST_VISIT = "hs_analytics_last_visit_timestamp"


def write_export(path: Path, rows: int) -> None:
    """The example HubSpot export's rows under fresh ids up to `rows`, each with its own counts and last visit.

    The titles, industries and countries repeat as in any real export; the activity does not, so
    no two rows read the same (nothing is scored once for many rows).
    """
    rng = random.Random(20)
    reference = datetime(2026, 11, 1, tzinfo=UTC)
    with EXAMPLE.open(newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        examples = list(reader)
        columns = list(reader.fieldnames or [])
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for i in range(rows):
            row = {**examples[i % len(examples)], "hs_object_id": str(1_000_000 + i)}
            for name in COUNTERS:
                if name in row:
                    row[name] = str(rng.randint(0, 60))
            if LAST_VISIT in row:
                seen = reference - timedelta(seconds=rng.randint(0, 300 * 86_400))
                row[LAST_VISIT] = seen.strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow(row)


def measure(command: list[str], output: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one run, its stdout to `output`."""
    with output.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KB


def best(command: list[str], output: Path) -> tuple[float, float]:
    runs = [measure(command, output) for _ in range(ROUNDS)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def run() -> str:
    with tempfile.TemporaryDirectory() as folder:
        export, out = Path(folder) / "contacts.csv", Path(folder) / "out"
        write_export(export, ROWS)
        size_mb = export.stat().st_size / 1e6
        plain_s, plain_mb = best([sys.executable, "-c", PLAIN, str(export)], out)
        score = [LEADTHERM, "score", str(export), "--as-of", "2026-11-01", "--summary", "--format"]
        figures = {fmt: best([*score, fmt], out) for fmt in ("csv", "json", "table")}
        out_rows = sum(1 for _ in out.open(encoding="utf-8")) - 2  # the table's header and rule
    lines = []
    for fmt, (seconds, peak) in figures.items():
        ratio = seconds / plain_s
        limit, against = (TABLE_RATIO * figures["csv"][0], "CSV") if fmt == "table" else (CSV_RATIO * plain_s, "plain")
        verdict = "meets" if seconds <= limit and peak < PEAK_MB else "MISSES"
        target = f"at most {TABLE_RATIO:.0f}x the CSV time" if against == "CSV" else f"at most {CSV_RATIO:.0f}x plain"
        lines.append(
            f"| `score --format {fmt}` | {seconds:.2f} s | **{ratio:.2f}x** | **{peak:.0f} MB** | "
            f"{verdict} ({target}, under {PEAK_MB:.0f} MB) |"
        )
    table_vs_csv = figures["table"][0] / figures["csv"][0]
    return f"""## `score` of a large export (installed CLI, subprocess)

{ROWS:,} HubSpot contacts ({size_mb:.0f} MB of CSV, the example export's people under fresh ids, each row with its own
activity counts and last visit), scored as of
2026-11-01 with `--summary`; stdout to a file. Baseline: the csv module reading every row and writing it back
(`csv.writer(sys.stdout).writerows(csv.reader(f))`) in the same run. Best wall time of {ROUNDS} runs,
peak resident memory (ru_maxrss) the highest of them.

| command | wall time | / plain | peak memory | verdict |
|---|---|---|---|---|
| plain CSV read-and-write | {plain_s:.2f} s | 1.00x | {plain_mb:.0f} MB | |
{chr(10).join(lines)}

The table format takes {table_vs_csv:.2f}x the CSV time: past 500 rows it streams aligned plain lines
(widths from the first 500 rows) instead of a boxed table; {out_rows:,} rows in its output.

Where the ratio misses: reading and writing are streamed (memory meets the target), but each row
is normalised and assessed in Python (about 14 microseconds per assessment on a quiet core, see
"Scoring throughput"), which alone is several times the csv module's cost per row; meeting 3x
needs a faster assessment (or scoring on more cores), not faster I/O.
"""
