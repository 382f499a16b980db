"""The catalogue: every built-in Lead attribute and every output, declared once.

Validation (`mappings.schema`), normalisation and scoring (`integration`), calibration's
candidate rules, the `setup` field specs of each CRM and the tests' strategies all derive
from these two tables. Adding a built-in attribute or an output is one entry here plus YAML.

Kept in `mappings` (not the core) so that the schema can validate against it while
`mappings` still depends on nothing but pydantic and PyYAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Kind = Literal["text", "integer", "number", "boolean", "datetime", "stage"]
# What the core reads an attribute for, beyond rules testing it.
Role = Literal[
    "contact_data",  # stage: identified (lead) rather than a suspect
    "criterion",  # a qualification answer a rep records (BANT)
    "last_engagement",  # the moment engagement decays from
    "lifecycle",  # the CRM's own funnel stage: a floor for ours
    "open_deal",  # stage: opportunity
    "won_deal",  # stage: customer
    "converted",  # stage: opportunity (a converted Salesforce Lead)
    "opted_out",
    "bounced",
]
# How calibrate turns an attribute into candidate rules.
Calibration = Literal[
    "category",  # one rule per frequent value
    "answer",  # confirmed / ruled out, unknown the reference
    "flag",  # one rule for true
    "counter",  # cumulative thresholds at quantiles (behaviour: may be engagement)
    "range",  # exclusive bins at quantiles
    "none",  # not learned from (outcomes, dates, identity)
]
# Kinds an admin may give an attribute of their own (a stage needs a map; built-in only).
CUSTOM_KINDS: tuple[Kind, ...] = ("text", "integer", "number", "boolean", "datetime")
NUMERIC_KINDS: frozenset[Kind] = frozenset({"integer", "number"})
# Kinds a company / account attribute may have (mappings.company): fit tests on text, numbers and yes/no.
COMPANY_KINDS: tuple[Kind, ...] = ("text", "number", "boolean")
# Kinds that can count behaviour and so decay with silence: a count or a yes/no.
DECAYING_KINDS: frozenset[Kind] = NUMERIC_KINDS | {"boolean"}


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
STAGES: tuple[str, ...] = tuple(s.value for s in Stage)
TEMPERATURES: tuple[str, ...] = tuple(t.value for t in Temperature)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One thing a mapping may fill and a rule may test."""

    name: str
    kind: Kind
    label: str  # how reasons and calibration name it
    role: Role | None = None
    decays: bool = False  # behaviour: counts on engagement and fades with silence
    calibrate: Calibration = "none"
    custom: bool = False  # declared by the admin in a mapping file
    values: tuple[str, ...] = ()  # the values it holds, where known without a mapping's `map`

    @property
    def empty(self) -> Any:
        """The value when a record says nothing: no events is 0, no flag is false, else unknown."""
        if self.custom or self.role == "criterion":
            return None
        if self.kind == "boolean":
            return False
        if self.kind == "integer" and self.decays:
            return 0
        return None


def _counter(name: str, label: str) -> Attribute:
    return Attribute(name, "integer", label, decays=True, calibrate="counter")


def _criterion(name: str, label: str) -> Attribute:
    return Attribute(name, "boolean", label, role="criterion", calibrate="answer")


BUILTIN: tuple[Attribute, ...] = (
    # who they are (fit)
    Attribute("has_contact_data", "boolean", "Has contact data", role="contact_data"),
    Attribute("title", "text", "Job title"),
    # The organisation's name: stored with the assessment so the console can find a record by it.
    Attribute("company", "text", "Company"),
    Attribute("seniority", "text", "Seniority", calibrate="category"),
    Attribute("company_size", "integer", "Company size", calibrate="range"),
    Attribute("annual_revenue", "number", "Annual revenue", calibrate="range"),
    Attribute("industry", "text", "Industry", calibrate="category"),
    Attribute("country", "text", "Country", calibrate="category"),
    Attribute("email_domain", "text", "E-mail domain"),
    Attribute("origin", "text", "Origin", calibrate="category"),
    # qualification recorded by a rep: True confirmed, False ruled out, None not yet known
    _criterion("need", "Need"),
    _criterion("budget", "Budget"),
    _criterion("authority", "Authority"),
    _criterion("timeline", "Timeline"),
    # behaviour (engagement)
    _counter("page_views", "Page views"),
    _counter("visits", "Site visits"),
    _counter("pricing_page_views", "Pricing page views"),
    _counter("form_submissions", "Forms submitted"),
    _counter("downloads", "Content downloads"),
    _counter("webinars", "Webinars attended"),
    _counter("email_opens", "E-mails opened"),
    _counter("email_clicks", "E-mail clicks"),
    _counter("email_replies", "E-mail replies"),
    _counter("social_follows", "Social follows"),
    Attribute("demo_requested", "boolean", "Requested a demo", decays=True, calibrate="flag"),
    Attribute("newsletter", "boolean", "Newsletter subscriber", decays=True, calibrate="flag"),
    Attribute("last_engagement_at", "datetime", "Last engagement", role="last_engagement"),
    # lifecycle and status
    Attribute("lifecycle", "stage", "Lifecycle stage", role="lifecycle", values=STAGES),
    Attribute("lead_status", "text", "Lead status", calibrate="category"),
    Attribute("rep_rating", "text", "Rep rating", calibrate="category", values=TEMPERATURES),  # Hot/Warm/Cold
    Attribute("has_open_deal", "boolean", "Has an open deal", role="open_deal"),
    Attribute("has_won_deal", "boolean", "Has a won deal", role="won_deal"),
    Attribute("converted", "boolean", "Converted", role="converted"),
    # negative evidence
    Attribute("opted_out", "boolean", "Unsubscribed", role="opted_out", calibrate="flag"),
    Attribute("bounced", "boolean", "E-mail bounced", role="bounced", calibrate="flag"),
)

ATTRIBUTES: Mapping[str, Attribute] = {a.name: a for a in BUILTIN}
EMPTY: Mapping[str, Any] = {a.name: a.empty for a in BUILTIN}


def with_role(role: Role) -> tuple[Attribute, ...]:
    """The built-in attributes the core reads for one purpose, in catalogue order."""
    return tuple(a for a in BUILTIN if a.role == role)


def the_one(role: Role) -> str:
    """The name of the single built-in attribute with a role (lifecycle, last engagement...)."""
    (attribute,) = with_role(role)
    return attribute.name


QUALIFICATION: tuple[str, ...] = tuple(a.name for a in with_role("criterion"))


def custom_attribute(name: str, kind: Kind, label: str | None = None, decays: bool = False) -> Attribute:
    """An admin's own attribute, treated by calibrate by its kind."""
    calibrate: Calibration
    if kind == "text":
        calibrate = "category"
    elif kind in NUMERIC_KINDS:
        calibrate = "counter" if decays else "range"
    elif kind == "boolean":
        calibrate = "flag"
    else:
        calibrate = "none"
    shown = label or name.replace("_", " ").capitalize()
    return Attribute(name, kind, shown, decays=decays, calibrate=calibrate, custom=True)


# ---------------------------------------------------------------------------- outputs

# The value each output holds; each CRM adapter maps a value type onto one field type.
ValueType = Literal["percent", "temperature", "stage", "long_text", "short_text", "datetime", "rating", "count"]


@dataclass(frozen=True, slots=True)
class Output:
    """One field leadtherm writes back."""

    key: str
    label: str
    value: ValueType
    # Optional outputs may be left out of a mapping without a notice (skipped unless named).
    optional: bool = False
    # Written only together with a change of temperature (so a workflow fires once per change).
    on_temperature_change: bool = False


OUTPUTS: tuple[Output, ...] = (
    Output("score", "Lead score", "percent"),
    Output("fit", "Lead fit", "percent"),
    Output("engagement", "Lead engagement", "percent"),
    Output("temperature", "Lead temperature", "temperature"),
    Output("stage", "Lead stage", "stage"),
    Output("reasons", "Lead score reasons", "long_text"),
    Output("next_action", "Suggested next action", "short_text"),
    Output("previous_temperature", "Previous lead temperature", "temperature", on_temperature_change=True),
    Output("temperature_changed_at", "Lead temperature changed at", "datetime", on_temperature_change=True),
    Output("rating", "Lead rating (1-4)", "rating", optional=True),
    # Off unless the mapping names its field: the fit x engagement cell, A1-D4 (scoring.yaml's `grid`).
    Output("grid", "Lead fit x engagement (A1-D4)", "short_text", optional=True),
)
OUTPUT_BY_KEY: Mapping[str, Output] = {o.key: o for o in OUTPUTS}
OUTPUT_KEYS: tuple[str, ...] = tuple(o.key for o in OUTPUTS)

# What a company / account score writes (mappings.company): a person's first six outputs, meaning the same
# for a company, and two figures of the roll-up's own. A label follows the CRM's word for the object
# ("Company score", "Account score").
COMPANY_OUTPUTS: tuple[Output, ...] = (
    Output("score", "score", "percent"),
    Output("fit", "fit", "percent"),
    Output("engagement", "engagement", "percent"),
    Output("temperature", "temperature", "temperature"),
    Output("stage", "stage", "stage"),
    Output("reasons", "score reasons", "long_text"),
    Output("engaged_people", "engaged people", "count"),
    Output("coverage", "buying-group roles engaged", "count"),
)
COMPANY_OUTPUT_BY_KEY: Mapping[str, Output] = {o.key: o for o in COMPANY_OUTPUTS}


def named_output_field(default: str | None, score: str) -> str | None:
    """A named score's field for an output, derived from the default score's field by inserting the score's name.

    `leadtherm_score` -> `leadtherm_analytics_score`; `Lead_Score__c` -> `Lead_Analytics_Score__c` (a field
    spelled in capitals gets the name in capitals: Salesforce's style). None stays None (the output is off).
    """
    if default is None:
        return None
    prefix, sep, rest = default.partition("_")
    styled = "_".join(p.capitalize() for p in score.split("_")) if prefix[:1].isupper() else score
    return f"{prefix}_{styled}_{rest}" if sep else f"{default}_{styled}"


# The values of the enumeration-like value types.
OPTIONS: Mapping[ValueType, tuple[str, ...]] = {"temperature": TEMPERATURES, "stage": STAGES}
