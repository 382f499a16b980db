"""The fit x engagement grid: a cell such as "B2" (fit A-D, engagement 1-4), as Marketo shows it."""

from __future__ import annotations

from collections.abc import Sequence

from mappings.schema import GridCuts

FIT_ROWS = ("A", "B", "C", "D")
ENGAGEMENT_COLUMNS = ("1", "2", "3", "4")


def _band(value: float, cuts: Sequence[int]) -> int:
    """0 for the best band (at or above the first cut point) to 3 (below the last)."""
    for index, cut in enumerate(cuts):
        if value >= cut:
            return index
    return len(cuts)


def grid_cell(fit: float, engagement: float, cuts: GridCuts) -> str:
    """The cell of a record with this fit and engagement (0-100 each): "A1" is the best fit, most engaged."""
    return FIT_ROWS[_band(fit, cuts.fit)] + ENGAGEMENT_COLUMNS[_band(engagement, cuts.engagement)]
