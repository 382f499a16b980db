"""What the demo shows while it runs, and the summary it ends with."""

from __future__ import annotations

import statistics
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table
from rich.text import Text

from integration.cli.report import TEMPERATURE_STYLE
from integration.domain.model import Temperature
from integration.service.pipeline import BatchReport


@dataclass
class Tally:
    """Counts the worker reports, and the time from a change in the CRM to its written field."""

    events: int = 0
    records: int = 0
    written: int = 0
    fields: int = 0
    echoes: int = 0
    latencies: list[float] = field(default_factory=list)
    pending: dict[str, float] = field(default_factory=dict)  # "crm:id" -> when it changed
    feed: deque[str] = field(default_factory=lambda: deque(maxlen=10))  # temperature changes
    last_activity: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def changed(self, key: str, at: float, what: str) -> None:
        with self.lock:
            self.pending.setdefault(key, at)
            self.last_activity = what

    def moved(self, line: str) -> None:
        with self.lock:
            self.feed.appendleft(line)

    def add(self, report: BatchReport, at: float) -> None:
        with self.lock:
            self.events += report.events
            self.records += report.records
            self.written += report.written
            self.fields += report.fields_written
            self.echoes += report.echoes
            for ref in report.written_refs:
                started = self.pending.pop(f"{ref.crm}:{ref.record_id}", None)
                if started is not None:
                    self.latencies.append(at - started)

    def p95(self) -> float | None:
        with self.lock:
            if len(self.latencies) < 2:
                return self.latencies[0] if self.latencies else None
            return statistics.quantiles(self.latencies, n=20)[-1]


def distribution(label: str, temperatures: dict[str, str | None]) -> Table:
    counts = Counter(temperatures.values())
    table = Table(title=f"{label}: {len(temperatures)} records", header_style="bold", min_width=34)
    table.add_column("temperature")
    table.add_column("records", justify="right")
    for temperature in Temperature:
        table.add_row(
            Text(temperature.value, style=TEMPERATURE_STYLE[temperature]), str(counts.get(temperature.value, 0))
        )
    table.add_row(Text("not yet scored", style="dim"), str(counts.get(None, 0)))
    return table


def screen(tables: list[Table], tally: Tally, elapsed: float, duration: float, note: str) -> Group:
    grid = Table.grid(padding=(0, 3))
    for _ in tables:
        grid.add_column()
    grid.add_row(*tables)
    feed = Table(title="latest temperature changes", header_style="bold", show_header=False, min_width=70)
    feed.add_column("what")
    with tally.lock:
        for line in tally.feed:
            feed.add_row(line)
    p95 = tally.p95()
    status = Text(
        f"{elapsed:4.0f}/{duration:.0f} s   events {tally.events}   assessed {tally.records}   "
        f"written {tally.written} ({tally.fields} fields)   own echoes dropped {tally.echoes}   "
        f"p95 change->field {'-' if p95 is None else f'{p95:.2f} s'}\nlast activity: {tally.last_activity}   {note}"
    )
    return Group(grid, feed, status)
