"""Render assessments for people (rich tables) and programs (CSV, JSON)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from integration.model import Assessment, Temperature

TEMPERATURE_STYLE = {
    Temperature.COLD: "blue",
    Temperature.COOL: "cyan",
    Temperature.WARM: "yellow",
    Temperature.HOT: "bold red",
}
COLUMNS = ("id", "score", "fit", "engagement", "temperature", "stage", "reasons")


@dataclass(frozen=True, slots=True)
class ScoredRow:
    record_id: str
    assessment: Assessment


def reasons_text(assessment: Assessment, limit: int = 5, max_chars: int = 1000) -> str:
    """Top reasons in plain language, e.g. "Decision-maker title (+25); Page views (+12)"."""
    parts = [str(r) for r in assessment.top_reasons(limit)]
    if assessment.missing_for_hot and assessment.score >= 50:
        parts.append("hot once confirmed: " + ", ".join(assessment.missing_for_hot))
    text = "; ".join(parts)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _values(row: ScoredRow) -> list[str | int]:
    a = row.assessment
    return [
        row.record_id,
        a.score,
        a.fit,
        a.engagement,
        a.temperature.value,
        a.stage.value,
        reasons_text(a, 3),
    ]


def write_rows(console: Console, rows: list[ScoredRow], fmt: str) -> None:
    if fmt == "json":
        payload = [dict(zip(COLUMNS, _values(r), strict=True)) for r in rows]
        console.file.write(json.dumps(payload, indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.writer(console.file, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(_values(r) for r in rows)
    else:
        table = Table(*COLUMNS, header_style="bold")
        for row in rows:
            values = [str(v) for v in _values(row)]
            values[4] = f"[{TEMPERATURE_STYLE[row.assessment.temperature]}]{values[4]}[/]"
            table.add_row(*values)
        console.print(table)


def print_distribution(console: Console, counts: Counter[Temperature], title: str) -> None:
    total = sum(counts.values()) or 1
    table = Table(title=title, header_style="bold")
    table.add_column("temperature")
    table.add_column("leads", justify="right")
    table.add_column("share", justify="right")
    for temperature in Temperature:
        n = counts.get(temperature, 0)
        label = f"[{TEMPERATURE_STYLE[temperature]}]{temperature.value}[/]"
        table.add_row(label, str(n), f"{100 * n / total:.0f}%")
    console.print(table)
