"""The CRM-neutral model: what a lead is, and what leadtherm concludes about it.

Plain frozen dataclasses rather than pydantic models: values are validated once
where they enter (the mapping transforms), and assessment runs on the hot path
of every webhook, backfill and sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from mappings.attributes import QUALIFICATION


class Temperature(StrEnum):
    """The thermometer, coldest first; order matters (see `rank`)."""

    COLD = "cold"
    COOL = "cool"
    WARM = "warm"
    HOT = "hot"

    @property
    def rank(self) -> int:
        """1 (cold) to 4 (hot): the coarse rating CRMs show."""
        return _TEMPERATURE_ORDER.index(self) + 1


_TEMPERATURE_ORDER = list(Temperature)


class Stage(StrEnum):
    """The funnel, earliest first."""

    SUSPECT = "suspect"
    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"

    @property
    def rank(self) -> int:
        return _STAGE_ORDER.index(self)


_STAGE_ORDER = list(Stage)

# Qualification answers a rep records (BANT; HubSpot's "fit" and "influence" map onto these).
QUALIFICATION_CRITERIA = QUALIFICATION

# Engagement counters a Lead carries; scoring rules refer to them by these names.
ENGAGEMENT_COUNTERS = (
    "page_views",
    "visits",
    "pricing_page_views",
    "form_submissions",
    "downloads",
    "webinars",
    "email_opens",
    "email_clicks",
    "email_replies",
    "social_follows",
)


@dataclass(frozen=True, slots=True)
class Lead:
    """One contact or lead, whatever CRM it came from."""

    crm: str
    record_id: str
    object_type: str = "contact"
    # who they are (fit)
    has_contact_data: bool = False
    title: str | None = None
    seniority: str | None = None
    company_size: int | None = None
    annual_revenue: float | None = None
    industry: str | None = None
    country: str | None = None
    email_domain: str | None = None
    origin: str | None = None
    # qualification recorded by a rep: True confirmed, False ruled out, None unknown
    need: bool | None = None
    budget: bool | None = None
    authority: bool | None = None
    timeline: bool | None = None
    # behaviour (engagement)
    page_views: int = 0
    visits: int = 0
    pricing_page_views: int = 0
    form_submissions: int = 0
    downloads: int = 0
    webinars: int = 0
    email_opens: int = 0
    email_clicks: int = 0
    email_replies: int = 0
    social_follows: int = 0
    demo_requested: bool = False
    newsletter: bool = False
    last_engagement_at: datetime | None = None
    # lifecycle and status
    lifecycle: Stage | None = None
    lead_status: str | None = None
    rep_rating: str | None = None
    has_open_deal: bool = False
    has_won_deal: bool = False
    converted: bool = False
    # negative evidence
    opted_out: bool = False
    bounced: bool = False


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that fired: which axis, its label, and its points on that axis."""

    axis: str  # "fit", "engagement" or "penalty"
    label: str
    points: float

    def __str__(self) -> str:
        return f"{self.label} ({self.points:+.0f})"


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

    @property
    def rating(self) -> int:
        """The 1-4 rating that maps onto the four temperatures."""
        return self.temperature.rank

    def top_reasons(self, limit: int = 5) -> list[Reason]:
        """The reasons that moved the score most, largest first."""
        return sorted(self.reasons, key=lambda r: -abs(r.points))[:limit]
