"""The overview page: where the stored records stand (scores, temperatures, the fit x engagement grid)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from flask import Blueprint, render_template

from integration.domain.grid import ENGAGEMENT_COLUMNS, FIT_ROWS, grid_cell
from integration.ports import RecordQuery, RecordSearch
from mappings.catalogue import TEMPERATURES
from mappings.schema import GridCuts
from webhooks.console.charts import grid_chart, score_histogram, temperature_bars
from webhooks.console.context import Console
from webhooks.console.records import searchable

PAGE = 500  # records read per request to the store: the counts are kept, the records are not
BANDS = 10


@dataclass
class Overview:
    """Counts over every stored record."""

    records: int = 0
    bands: list[int] = field(default_factory=lambda: [0] * BANDS)
    temperatures: Counter[str] = field(default_factory=Counter)
    cells: Counter[str] = field(default_factory=Counter)


def band(score: int) -> int:
    """0 for scores 0-9 ... 9 for 90-100."""
    return min(max(score, 0) // 10, BANDS - 1)


def overview_of(store: RecordSearch, cuts: GridCuts) -> Overview:
    """Read the stored records a page at a time and count them (memory: one page and the counts)."""
    seen = Overview()
    cursor: str | None = None
    while True:
        page = store.search(RecordQuery(), cursor, PAGE)
        for _, state in page.records:
            seen.records += 1
            seen.bands[band(state.score)] += 1
            seen.temperatures[state.temperature] += 1
            seen.cells[grid_cell(state.fit, state.engagement, cuts)] += 1
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def add_routes(bp: Blueprint, console: Console) -> None:
    @bp.get("/overview")
    def overview() -> str:
        store = searchable(console)
        rules = console.current_rules()
        cuts = rules.grid if rules is not None else GridCuts()
        seen = overview_of(store, cuts) if store is not None else None
        return render_template(
            "overview.html",
            connected=store is not None,
            seen=seen,
            cuts=cuts,
            rows=FIT_ROWS,
            columns=ENGAGEMENT_COLUMNS,
            histogram=score_histogram(seen.bands) if seen else None,
            temperatures=temperature_bars([(t, seen.temperatures[t]) for t in TEMPERATURES]) if seen else None,
            grid=grid_chart(seen.cells, FIT_ROWS, ENGAGEMENT_COLUMNS) if seen else None,
        )
