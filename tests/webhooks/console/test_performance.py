"""Small runs of the console benchmark (bench/console.py): the same code, with bounds loose enough for a busy CI."""

from __future__ import annotations

from bench.console import preview_latencies, whatif_seconds


def test_a_points_edit_answers_with_the_preview_of_200_records_quickly() -> None:
    took = preview_latencies(edits=8, records=200)
    assert sorted(took)[-2] < 1.0  # the target, measured by `make bench`, is p95 under 0.3 s


def test_a_what_if_on_2000_history_rows_takes_well_under_the_10000_row_budget() -> None:
    _, seconds = whatif_seconds(rows=2000)
    assert seconds < 5.0
