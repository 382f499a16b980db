"""The CRM-neutral model: what a lead is, and what leadtherm concludes about it.

Plain frozen dataclasses rather than pydantic models: values are validated once
where they enter (the mapping transforms), and assessment runs on the hot path
of every webhook, backfill and sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mappings.catalogue import ATTRIBUTES, EMPTY, QUALIFICATION
from mappings.catalogue import Stage as Stage  # the catalogue declares the enums; the core reads them here
from mappings.catalogue import Temperature as Temperature

# Qualification answers a rep records (BANT; HubSpot's "fit" and "influence" map onto these).
QUALIFICATION_CRITERIA = QUALIFICATION


@dataclass(frozen=True, slots=True)
class Lead:
    """One contact or lead, whatever CRM it came from: its attributes by catalogue name.

    `values` holds every built-in attribute (empty ones at their catalogue default) and the
    admin's own attributes; `lead.title` reads a built-in by name.
    """

    crm: str
    record_id: str
    object_type: str = "contact"
    values: Mapping[str, Any] = field(default_factory=lambda: dict(EMPTY))

    @classmethod
    def of(cls, crm: str, record_id: str, object_type: str = "contact", **values: Any) -> Lead:
        """A lead with the given attributes and every other built-in at its default."""
        return cls(crm, record_id, object_type, {**EMPTY, **values})

    def get(self, name: str) -> Any:
        """An attribute's value, built-in or the admin's own; None when the lead has none."""
        return self.values.get(name)

    def replace(self, **values: Any) -> Lead:
        return Lead(self.crm, self.record_id, self.object_type, {**self.values, **values})

    def __getattr__(self, name: str) -> Any:
        # Only reached when no slot matches: built-ins read like fields (lead.last_engagement_at).
        if name in ATTRIBUTES:
            return self.values.get(name)
        raise AttributeError(f"Lead has no attribute {name!r}")

    __hash__ = None  # type: ignore[assignment]  # values is a dict


@dataclass(frozen=True, slots=True)
class Reason:
    """One line of the score: a rule that fired, the starting points, a cap or the decay.

    In an Assessment, `points` is the line's contribution to the final 0-100 score (after
    weights, caps and decay), a whole number; the lines add up to the score exactly.
    `on_axis` keeps a rule's own points on its axis, as written in scoring.yaml.
    """

    # A section's label (mappings.grammar.SECTIONS): "fit", "engagement", "penalty"; or, for the lines of
    # the formula, "start", "cap", "decay".
    axis: str
    label: str
    points: float
    on_axis: float | None = None

    def __str__(self) -> str:
        return f"{self.label} ({signed(self.points)})"


def signed(points: float) -> str:
    """+13, -5, 0: points as a person writes them."""
    whole = round(points)
    value = whole if abs(points - whole) < 1e-9 else points
    return f"{value:+g}" if value else "0"


@dataclass(frozen=True, slots=True)
class Assessment:
    """What leadtherm concludes about a lead at a moment."""

    score: int
    fit: int
    engagement: int
    temperature: Temperature
    stage: Stage
    reasons: tuple[Reason, ...]
    next_action: str
    assessed_at: datetime
    # When the temperature drops if nothing new happens; None when it never will.
    next_drop_at: datetime | None = None
    missing_for_hot: tuple[str, ...] = field(default=())
    # The starting points in the final score (after the fit weight): with the reasons, they add up to the score.
    starting_points: int = 0
    # The fit x engagement cell ("B2"), by the rules' grid cut points.
    grid: str = ""

    @property
    def rating(self) -> int:
        """The 1-4 rating that maps onto the four temperatures."""
        return self.temperature.rank

    def lines(self) -> tuple[Reason, ...]:
        """The starting points (when there are any) and the reasons: whole points that add up to the score."""
        if not self.starting_points:
            return self.reasons
        return (Reason("start", "Starting points", float(self.starting_points)), *self.reasons)

    def top_reasons(self, limit: int = 5) -> list[Reason]:
        """The reasons that moved the score most, largest first."""
        return sorted(self.reasons, key=lambda r: -abs(r.points))[:limit]
