"""Pydantic schema of the admin's files: `scoring.yaml` and the per-CRM mapping files.

Validated once at load; after that the code trusts these objects. Unknown keys are
errors so that a typo cannot pass silently.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings.attributes import (
    LEAD_ATTRIBUTES,
    OUTPUT_KEYS,
    STAGES,
    TEMPERATURES,
)

Scalar = str | int | float | bool
POINTS_BOUND = 100  # a score is 0-100: one rule worth more is a typo (180 for 18)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _known_attribute(name: str) -> str:
    if name not in LEAD_ATTRIBUTES:
        raise ValueError(f"unknown Lead attribute {name!r} (known: {', '.join(LEAD_ATTRIBUTES)})")
    return name


def _valid_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
    return pattern


# ---------------------------------------------------------------------------- scoring.yaml


class Rule(Strict):
    """One scoring rule: a condition on one Lead attribute and the points it is worth.

    Exactly one condition: `is` (equality, for booleans and exact values), `in` (one of,
    case-insensitive), `matches` (regex), `at_least` / `below` (numeric range), `present`
    (has a value), or `each` (points for every `each` units of a counter, up to `max_points`).
    """

    label: str = Field(min_length=1, max_length=120)
    attribute: str
    is_: Scalar | None = Field(default=None, alias="is")
    in_: list[Scalar] | None = Field(default=None, alias="in")
    matches: str | None = None
    at_least: float | None = None
    below: float | None = None
    present: bool | None = None
    each: float | None = Field(default=None, gt=0)
    max_points: float | None = Field(default=None, ge=-POINTS_BOUND, le=POINTS_BOUND)
    points: float = Field(ge=-POINTS_BOUND, le=POINTS_BOUND)

    _check_attribute = field_validator("attribute")(_known_attribute)

    @field_validator("matches")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        return None if value is None else _valid_regex(value)

    @model_validator(mode="after")
    def _one_condition(self) -> Self:
        given = [
            name
            for name, value in (
                ("is", self.is_),
                ("in", self.in_),
                ("matches", self.matches),
                ("at_least/below", self.at_least if self.below is None else self.below),
                ("present", self.present),
                ("each", self.each),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "needs exactly one condition of is, in, matches, at_least/below, present, each"
                + (f" (has {', '.join(given)})" if given else "")
            )
        kind = LEAD_ATTRIBUTES[self.attribute]
        numeric = kind in ("integer", "number")
        if (self.at_least is not None or self.below is not None or self.each) and not numeric:
            raise ValueError(f"at_least, below and each need a numeric attribute; {self.attribute} is {kind}")
        if self.at_least is not None and self.below is not None and self.at_least >= self.below:
            raise ValueError("at_least must be smaller than below")
        if self.max_points is not None and self.each is None:
            raise ValueError("max_points goes with each")
        return self


class Weights(Strict):
    fit: float = Field(default=0.5, ge=0, le=1)
    engagement: float = Field(default=0.5, ge=0, le=1)


class Decay(Strict):
    half_life_days: float = Field(default=30, gt=0)
    grace_days: float = Field(default=7, ge=0)


class Thresholds(Strict):
    """Lowest score of each band; cold is everything below `cool`."""

    cool: int = Field(default=25, ge=0, le=100)
    warm: int = Field(default=50, ge=0, le=100)
    hot: int = Field(default=75, ge=0, le=100)

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if not (0 < self.cool < self.warm < self.hot <= 100):
            raise ValueError(
                f"thresholds out of order: need 0 < cool < warm < hot <= 100, "
                f"got cool={self.cool}, warm={self.warm}, hot={self.hot}"
            )
        return self


Criterion = Literal["need", "budget", "authority", "timeline"]


def _all_criteria() -> list[Criterion]:
    return ["need", "budget", "authority", "timeline"]


class Qualification(Strict):
    """Criteria a rep must confirm: all of them gate `hot` and make a lead an SQL."""

    required: list[Criterion] = Field(default_factory=_all_criteria, min_length=1)


class StageRules(Strict):
    mql_score: int = Field(default=50, ge=0, le=100)


class NextActions(Strict):
    cold: str = Field(min_length=1, max_length=255)
    cool: str = Field(min_length=1, max_length=255)
    warm: str = Field(min_length=1, max_length=255)
    hot: str = Field(min_length=1, max_length=255)


class ScoringRules(Strict):
    """The whole of `scoring.yaml`."""

    version: Literal[1] = 1
    weights: Weights = Weights()
    decay: Decay = Decay()
    temperature: Thresholds = Thresholds()
    qualification: Qualification = Qualification()
    stage: StageRules = StageRules()
    fit: list[Rule] = Field(default_factory=list)
    engagement: list[Rule] = Field(default_factory=list)
    penalties: list[Rule] = Field(default_factory=list)
    next_actions: NextActions

    @field_validator("engagement")
    @classmethod
    def _engagement_only_adds(cls, rules: list[Rule]) -> list[Rule]:
        # Interest only ever adds; negative evidence belongs in penalties, where it does not decay.
        for rule in rules:
            if rule.points < 0 or (rule.max_points is not None and rule.max_points < 0):
                raise ValueError(f"rule {rule.label!r}: engagement points must be >= 0; put it in penalties")
            if rule.below is not None:
                raise ValueError(f"rule {rule.label!r}: engagement rules cannot use below")
        return rules

    @field_validator("penalties")
    @classmethod
    def _penalties_subtract(cls, rules: list[Rule]) -> list[Rule]:
        for rule in rules:
            if rule.points > 0:
                raise ValueError(f"rule {rule.label!r}: penalty points must be <= 0")
        return rules


# ---------------------------------------------------------------------------- <crm>.yaml

Transform = Literal[
    "text",
    "lower",
    "integer",
    "number",
    "boolean",
    "datetime",
    "email_domain",
    "seniority",
    "present",
    "positive",
]
Pick = Literal["first", "latest", "sum", "any"]


class AttributeMapping(Strict):
    """Where one Lead attribute comes from: one or several CRM fields and a transform."""

    field: str | None = None
    fields: list[str] | None = None
    pick: Pick = "first"
    transform: Transform | None = None
    map: dict[str, Scalar | None] | None = None
    default: Scalar | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.field is None) == (self.fields is None):
            raise ValueError("needs exactly one of field or fields")
        if self.fields is not None and not self.fields:
            raise ValueError("fields must list at least one CRM field")
        return self

    @property
    def sources(self) -> list[str]:
        return [self.field] if self.field is not None else list(self.fields or [])


class SeniorityPattern(Strict):
    pattern: str
    value: str = Field(min_length=1)

    _check = field_validator("pattern")(_valid_regex)


class CrmMapping(Strict):
    """The whole of a CRM mapping file (`hubspot.yaml`, `salesforce.yaml`)."""

    crm: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    objects: list[str] = Field(min_length=1)
    id_field: str
    attributes: dict[str, AttributeMapping]
    seniority: list[SeniorityPattern] = Field(default_factory=list)
    outputs: dict[str, str | None]
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _attributes_known(cls, value: dict[str, AttributeMapping]) -> dict[str, AttributeMapping]:
        for name, mapping in value.items():
            _known_attribute(name)
            kind = LEAD_ATTRIBUTES[name]
            if kind == "stage":
                bad = [v for v in (mapping.map or {}).values() if v is not None and v not in STAGES]
                if mapping.map is None or bad:
                    raise ValueError(
                        f"{name}: needs a map onto stages ({', '.join(STAGES)})"
                        + (f"; not a stage: {bad}" if bad else "")
                    )
        return value

    @field_validator("outputs")
    @classmethod
    def _outputs_known(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        unknown = sorted(set(value) - set(OUTPUT_KEYS))
        if unknown:
            raise ValueError(f"unknown output {unknown[0]!r} (known: {', '.join(OUTPUT_KEYS)})")
        missing = [key for key in OUTPUT_KEYS if key not in value]
        if missing:
            raise ValueError(f"missing output {missing[0]!r} (name a field, or null to skip it)")
        return value

    @model_validator(mode="after")
    def _seniority_defined(self) -> Self:
        uses = any(m.transform == "seniority" for m in self.attributes.values())
        if uses and not self.seniority:
            raise ValueError("a seniority transform needs seniority patterns")
        return self

    def output_field(self, key: str) -> str | None:
        return self.outputs.get(key)

    @property
    def own_fields(self) -> frozenset[str]:
        """CRM fields leadtherm writes: a change to only these is our own echo."""
        return frozenset(v for v in self.outputs.values() if v)

    @property
    def read_fields(self) -> list[str]:
        """Every CRM field to fetch: the sources of the attributes and the current outputs."""
        names = [self.id_field]
        for mapping in self.attributes.values():
            names.extend(mapping.sources)
        names.extend(v for v in self.outputs.values() if v)
        return list(dict.fromkeys(names))


__all__ = ["TEMPERATURES", "AttributeMapping", "CrmMapping", "Rule", "ScoringRules"]
