"""Pydantic schema of the admin's files: `scoring.yaml` and the per-CRM mapping files.

Validated once at load; after that the code trusts these objects. Unknown keys are
errors so that a typo cannot pass silently.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from mappings.catalogue import (
    ATTRIBUTES,
    CUSTOM_KINDS,
    DECAYING_KINDS,
    NUMERIC_KINDS,
    OUTPUT_BY_KEY,
    QUALIFICATION,
    STAGES,
    TEMPERATURES,
    Attribute,
    Kind,
    custom_attribute,
    named_output_field,
)
from mappings.company import CompanyMapping
from mappings.grammar import ALL, AT_LEAST, BELOW, COMPANY, CONDITIONS, EACH, MAX_POINTS
from mappings.patterns import valid_pattern

Scalar = str | int | float | bool
POINTS_BOUND = 100  # a score is 0-100: one rule worth more is a typo (180 for 18)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_NAME = r"^[a-z][a-z0-9_]*$"


def _builtin_attribute(name: str) -> str:
    if name not in ATTRIBUTES:
        raise ValueError(
            f"unknown attribute {name!r} (built-in: {', '.join(ATTRIBUTES)}; declare your own under custom_attributes)"
        )
    return name


def _attribute_name(name: str) -> str:
    if not re.match(_NAME, name):
        raise ValueError(f"attribute {name!r}: use lower-case letters, digits and _ (like product_interest)")
    return name


# ---------------------------------------------------------------------------- scoring.yaml


class DaysAgo(Strict):
    """A date's age in days at the moment a lead is assessed: `at_least` inclusive, `below` exclusive.

    Fractional days count (12 hours is 0.5); a date after that moment is a negative age, so
    `{at_least: -30, below: 0}` reads "in the next 30 days".
    """

    at_least: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> Self:
        if self.at_least is None and self.below is None:
            raise ValueError("days_ago needs at_least, below or both (like {at_least: 7, below: 30})")
        if self.at_least is not None and self.below is not None and self.at_least >= self.below:
            raise ValueError("days_ago: at_least must be smaller than below")
        return self


class Condition(Strict):
    """One condition of a compound rule: an attribute and exactly one test, as a single rule has (no `each`)."""

    attribute: str
    is_: Scalar | None = Field(default=None, alias="is")
    in_: list[Scalar] | None = Field(default=None, alias="in")
    matches: str | None = None
    at_least: float | None = None
    below: float | None = None
    days_ago: DaysAgo | None = None
    present: bool | None = None

    _check_attribute = field_validator("attribute")(_attribute_name)

    @field_validator("matches")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        return None if value is None else valid_pattern(value)

    @model_validator(mode="before")
    @classmethod
    def _no_counter(cls, data: Any) -> Any:
        # Said plainly rather than as "extra field": a compound rule earns its points once.
        if isinstance(data, dict) and (EACH in data or MAX_POINTS in data):
            raise ValueError("each (and max_points) cannot be used inside all: a compound rule earns its points once")
        return data

    @model_validator(mode="after")
    def _one_condition(self) -> Self:
        problem = _condition_problem(self, _IN_ALL)
        if problem:
            raise ValueError(problem)
        builtin = ATTRIBUTES.get(self.attribute)
        if builtin is not None and (problem := self.kind_problem(builtin.kind)):
            raise ValueError(problem)
        return self

    def kind_problem(self, kind: Kind) -> str | None:
        """Why this condition cannot test an attribute of `kind`, or None when it can."""
        return _kind_problem(self, self.attribute, kind)


_IN_ALL = tuple(c for c in CONDITIONS if c != EACH)  # `each` counts units: a compound rule earns its points once


def _given(test: Condition | Rule, names: Sequence[str]) -> list[str]:
    """Which of these grammar names the rule or condition gives a value (`is` is the field `is_`)."""
    return [name for name in names if getattr(test, f"{name}_" if keyword.iskeyword(name) else name, None) is not None]


def _as_conditions(names: Sequence[str]) -> list[str]:
    """Names as a person counts conditions: a range's two bounds are one, at_least/below."""
    return list(dict.fromkeys(f"{AT_LEAST}/{BELOW}" if name in (AT_LEAST, BELOW) else name for name in names))


def _condition_problem(test: Condition | Rule, names: Sequence[str]) -> str | None:
    """Why a rule's or a condition's tests are not exactly one of `names`, or None."""
    given = _as_conditions(_given(test, names))
    if len(given) != 1:
        menu = ", ".join(_as_conditions(names))
        return f"needs exactly one condition of {menu}" + (f" (has {', '.join(given)})" if given else "")
    if test.at_least is not None and test.below is not None and test.at_least >= test.below:
        return "at_least must be smaller than below"
    return None


def _kind_problem(test: Condition | Rule, attribute: str, kind: Kind) -> str | None:
    numeric = kind in NUMERIC_KINDS
    each = test.each if isinstance(test, Rule) else None
    if (test.at_least is not None or test.below is not None or each) and not numeric:
        return f"at_least, below and each need a numeric attribute; {attribute} is {kind}"
    if test.days_ago is not None and kind != "datetime":
        return f"days_ago needs a datetime attribute; {attribute} is {kind}"
    if test.matches is not None and kind != "text":
        return f"matches needs a text attribute; {attribute} is {kind}"
    values = [test.is_] if test.is_ is not None else list(test.in_ or [])
    if kind == "text" and any(isinstance(v, bool) for v in values):
        # YAML reads a bare no/yes/on/off as a boolean: `country in: [no]` would never match Norway.
        return f"{attribute} is text but a value reads as true/false: quote it ('no', 'yes')"
    if kind == "boolean" and any(not isinstance(v, bool) for v in values):
        return f"{attribute} is boolean: test it with is: true or is: false"
    if numeric and any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        return f"{attribute} is {kind}: is/in need numbers (or use at_least/below)"
    return None


class Rule(Strict):
    """One scoring rule: a condition on one Lead attribute and the points it is worth.

    Exactly one condition: `is` (equality, for booleans and exact values), `in` (one of,
    case-insensitive), `matches` (regex), `at_least` / `below` (numeric range), `days_ago` (a
    datetime's age in days at the assessment moment, a range like `at_least` / `below`; a missing
    date never matches), `present` (has a value), or `each` (points for every `each` units of a
    counter, up to `max_points`).

    A compound rule has no `attribute` of its own: `all` lists two or more conditions, each an
    attribute and one of the conditions above but `each`, and the rule earns its points once when
    all of them hold (like HubSpot's AND groups). `Rule.model_validate({"label", "all", "points"})`
    builds one.
    """

    label: str = Field(min_length=1, max_length=120)
    attribute: str | None = None
    is_: Scalar | None = Field(default=None, alias="is")
    in_: list[Scalar] | None = Field(default=None, alias="in")
    matches: str | None = None
    at_least: float | None = None
    below: float | None = None
    days_ago: DaysAgo | None = None
    present: bool | None = None
    each: float | None = Field(default=None, gt=0)
    max_points: float | None = Field(default=None, ge=-POINTS_BOUND, le=POINTS_BOUND)
    all_: list[Condition] | None = Field(default=None, alias="all")
    points: float = Field(ge=-POINTS_BOUND, le=POINTS_BOUND)

    @field_validator("attribute")
    @classmethod
    def _check_attribute(cls, value: str | None) -> str | None:
        return None if value is None else _attribute_name(value)

    @field_validator("matches")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        return None if value is None else valid_pattern(value)

    @field_validator("all_")
    @classmethod
    def _two_or_more(cls, value: list[Condition] | None) -> list[Condition] | None:
        # One condition is a single rule: one way to write it keeps the file and the reasons plain.
        if value is not None and len(value) < 2:
            raise ValueError("all needs at least two conditions (for one, write a single rule with attribute)")
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> Self:
        if self.all_ is not None:
            return self._compound()
        if self.attribute is None:
            raise ValueError("needs an attribute (or all: [conditions] for a compound rule)")
        problem = _condition_problem(self, CONDITIONS)
        if problem:
            raise ValueError(problem)
        if self.max_points is not None and self.each is None:
            raise ValueError("max_points goes with each")
        # A built-in's kind is known here; an admin's own attribute is checked against its mapping.
        builtin = ATTRIBUTES.get(self.attribute)
        if builtin is not None and (problem := self.kind_problem(builtin.kind)):
            raise ValueError(problem)
        return self

    def _compound(self) -> Self:
        if self.attribute is not None:
            raise ValueError("a compound rule has no attribute of its own: each condition under all names one")
        beside = _given(self, (*CONDITIONS, MAX_POINTS))
        if beside:
            raise ValueError(f"a compound rule's conditions go under all, not beside it (has {', '.join(beside)})")
        return self

    @property
    def conditions(self) -> tuple[Condition | Rule, ...]:
        """What must hold for the rule to earn its points: its own condition, or each of a compound's."""
        return (self,) if self.all_ is None else tuple(self.all_)

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes the rule tests, in its order (one for a single rule)."""
        return tuple(c.attribute for c in self.conditions if c.attribute is not None)

    def kind_problem(self, kind: Kind) -> str | None:
        """Why this rule's condition cannot test an attribute of `kind`, or None when it can (single rules)."""
        return _kind_problem(self, self.attribute or "", kind)


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


class GridCuts(Strict):
    """The fit x engagement grid (Marketo's A1-D4): the lowest axis value of the best three rows or columns.

    Fit A is `fit[0]` and up, B from `fit[1]`, C from `fit[2]`, D below; engagement 1 to 4 likewise.
    """

    fit: list[int] = Field(default_factory=lambda: [75, 50, 25])
    engagement: list[int] = Field(default_factory=lambda: [75, 50, 25])

    @field_validator("fit", "engagement")
    @classmethod
    def _three_falling(cls, value: list[int]) -> list[int]:
        if len(value) != 3 or not (100 >= value[0] > value[1] > value[2] > 0):
            raise ValueError(f"need three cut points falling from 100 to above 0 (e.g. [75, 50, 25]), got {value}")
        return value


class Qualification(Strict):
    """Criteria a rep must confirm: all of them gate `hot` and make a lead an SQL."""

    required: list[str] = Field(default_factory=lambda: list(QUALIFICATION), min_length=1)

    @field_validator("required")
    @classmethod
    def _criteria(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in QUALIFICATION]
        if unknown:
            raise ValueError(f"unknown criterion {unknown[0]!r} (known: {', '.join(QUALIFICATION)})")
        return value


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
    grid: GridCuts = GridCuts()
    # Added to fit before its rules and never shown as a reason (calibrate sets it so no score clamps).
    starting_points: int = Field(default=0, ge=-100, le=100)
    fit: list[Rule] = Field(default_factory=list)
    engagement: list[Rule] = Field(default_factory=list)
    penalties: list[Rule] = Field(default_factory=list)
    next_actions: NextActions

    @field_validator("engagement")
    @classmethod
    def _engagement_only_adds(cls, rules: list[Rule]) -> list[Rule]:
        # Interest only ever adds; negative evidence belongs in penalties, where it does not decay.
        # `below` is refused because fewer events earning points reads backwards; a date's age is not a
        # count, so `days_ago: {below: 14}` ("started a trial in the last two weeks") is allowed.
        for rule in rules:
            if rule.points < 0 or (rule.max_points is not None and rule.max_points < 0):
                raise ValueError(f"rule {rule.label!r}: engagement points must be >= 0; put it in penalties")
            if any(c.below is not None for c in rule.conditions):
                raise ValueError(f"rule {rule.label!r}: engagement rules cannot use below")
        return rules

    @field_validator("penalties")
    @classmethod
    def _penalties_subtract(cls, rules: list[Rule]) -> list[Rule]:
        for rule in rules:
            if rule.points > 0:
                raise ValueError(f"rule {rule.label!r}: penalty points must be <= 0")
        return rules


# ---------------------------------------------------------------------------- scoring.<name>.yaml

# A named score's name: part of its file name and of its output fields (Salesforce allows 40 characters
# before __c: `Lead_<Name>_Temperature_Changed_At` leaves 12 for the name).
SCORE_NAME = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
SCORE_NAME_MAX = 12
# calibrate's output file; the CLI's --score values; scoring.company.yaml holds the company / account score
RESERVED_SCORE_NAMES = ("calibrated", "default", "all", COMPANY)


def score_name_problem(name: str) -> str | None:
    """Why `name` cannot name a score, or None when it can."""
    if not re.match(SCORE_NAME, name) or len(name) > SCORE_NAME_MAX:
        return (
            f"score name {name!r}: use up to {SCORE_NAME_MAX} lower-case letters, digits and single _ "
            "(like analytics or product_b)"
        )
    if name in RESERVED_SCORE_NAMES:
        return f"score name {name!r} is reserved ({', '.join(RESERVED_SCORE_NAMES)}): choose another"
    return None


class NamedScoringRules(ScoringRules):
    """A `scoring.<name>.yaml`: everything scoring.yaml holds, and the segment of records the score applies to.

    `segment` lists conditions written as a compound rule's (`attribute` and one test, `days_ago` included);
    a record is in the segment when every one holds. `segment: {all: [...]}` reads the same.
    """

    segment: list[Condition] = Field(min_length=1)

    @field_validator("segment", mode="before")
    @classmethod
    def _all_group(cls, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {ALL}:
            return value[ALL]
        return value


class ScoreDefinition(Strict):
    """One named score: its name, the records it applies to and its rules (a company score may reuse it)."""

    name: str
    segment: tuple[Condition, ...]
    rules: ScoringRules

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        problem = score_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @classmethod
    def of(cls, name: str, rules: NamedScoringRules) -> ScoreDefinition:
        return cls(name=name, segment=tuple(rules.segment), rules=rules)


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
    "checkbox",
]
Pick = Literal["first", "latest", "sum", "any"]
# When a field's value exists: before the first contact (evidence to score on), or only after a rep
# has spoken to the lead (a rating, a call outcome), which would leak the outcome into calibrate.
Known = Literal["before_contact", "after_contact"]


class AttributeMapping(Strict):
    """Where one Lead attribute comes from: one or several CRM fields and a transform."""

    field: str | None = None
    fields: list[str] | None = None
    pick: Pick = "first"
    transform: Transform | None = None
    map: dict[str, Scalar | None] | None = None
    default: Scalar | None = None
    known: Known = "before_contact"

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

    _check = field_validator("pattern")(valid_pattern)


class CustomAttribute(AttributeMapping):
    """An attribute of the admin's own: where it comes from, its kind, and whether it is decaying behaviour."""

    kind: Kind
    decays: bool = False
    label: str | None = Field(default=None, min_length=1, max_length=80)

    @field_validator("kind")
    @classmethod
    def _custom_kind(cls, value: Kind) -> Kind:
        if value not in CUSTOM_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CUSTOM_KINDS)}")
        return value

    @model_validator(mode="after")
    def _decays_on_behaviour(self) -> Self:
        if self.decays and self.kind not in DECAYING_KINDS:
            kinds = ", ".join(k for k in CUSTOM_KINDS if k in DECAYING_KINDS)
            raise ValueError(f"decays: true needs a count or a yes/no ({kinds}), not {self.kind}")
        return self


class CrmMapping(Strict):
    """The whole of a CRM mapping file (`hubspot.yaml`, `salesforce.yaml`)."""

    crm: str = Field(pattern=_NAME)
    objects: list[str] = Field(min_length=1)
    id_field: str
    attributes: dict[str, AttributeMapping]
    custom_attributes: dict[str, CustomAttribute] = Field(default_factory=dict)
    seniority: list[SeniorityPattern] = Field(default_factory=list)
    # Output key -> CRM field (null skips it). The loader fills an output a copied file lacks.
    outputs: dict[str, str | None]
    # Named score -> its outputs renamed (output key -> CRM field, null skips one); the others derive from
    # `outputs` (see named_output_field). The loader lists every named score in use here.
    scores: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    # Named score -> (the outputs it was derived from, its fields): a copy with other outputs derives again.
    _named: dict[str, tuple[object, dict[str, str | None]]] = PrivateAttr(default_factory=dict)
    company: CompanyMapping | None = None  # company / account scores (mappings.company)

    @field_validator("attributes")
    @classmethod
    def _attributes_known(cls, value: dict[str, AttributeMapping]) -> dict[str, AttributeMapping]:
        for name, mapping in value.items():
            _builtin_attribute(name)
            if ATTRIBUTES[name].kind == "stage":
                bad = [v for v in (mapping.map or {}).values() if v is not None and v not in STAGES]
                if mapping.map is None or bad:
                    raise ValueError(
                        f"{name}: needs a map onto stages ({', '.join(STAGES)})"
                        + (f"; not a stage: {bad}" if bad else "")
                    )
        return value

    @field_validator("custom_attributes")
    @classmethod
    def _custom_names(cls, value: dict[str, CustomAttribute]) -> dict[str, CustomAttribute]:
        for name in value:
            _attribute_name(name)
            if name in ATTRIBUTES:
                raise ValueError(
                    f"{name!r} is a built-in attribute: map it under attributes, or give yours another name"
                )
        return value

    @field_validator("outputs")
    @classmethod
    def _outputs_known(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        unknown = sorted(set(value) - set(OUTPUT_BY_KEY))
        if unknown:
            raise ValueError(f"unknown output {unknown[0]!r} (known: {', '.join(OUTPUT_BY_KEY)})")
        return value

    @field_validator("scores")
    @classmethod
    def _scores_known(cls, value: dict[str, dict[str, str | None]]) -> dict[str, dict[str, str | None]]:
        for name, renamed in value.items():
            problem = score_name_problem(name)
            if problem:
                raise ValueError(problem)
            unknown = sorted(set(renamed) - set(OUTPUT_BY_KEY))
            if unknown:
                raise ValueError(f"score {name!r}: unknown output {unknown[0]!r} (known: {', '.join(OUTPUT_BY_KEY)})")
        return value

    @model_validator(mode="after")
    def _seniority_defined(self) -> Self:
        uses = any(m.transform == "seniority" for m in self.attributes.values())
        if uses and not self.seniority:
            raise ValueError("a seniority transform needs seniority patterns")
        return self

    def output_field(self, key: str, score: str | None = None) -> str | None:
        """The CRM field of an output of the default score, or of the named score `score`."""
        if score is None:
            return self.outputs.get(key)
        return self.score_outputs(score).get(key)

    def score_outputs(self, score: str) -> dict[str, str | None]:
        """Output key -> CRM field of a named score: as renamed under `scores`, else derived from `outputs`."""
        cached = self._named.get(score)
        if cached is not None and cached[0] is self.outputs:
            return cached[1]
        renamed = self.scores.get(score, {})
        found = {
            key: renamed[key] if key in renamed else named_output_field(self.outputs.get(key), score)
            for key in OUTPUT_BY_KEY
        }
        self._named[score] = (self.outputs, found)
        return found

    def with_scores(self, names: Sequence[str]) -> CrmMapping:
        """This mapping writing the named scores `names` too (their renames kept): what the loader returns."""
        copied = self.model_copy(update={"scores": {name: dict(self.scores.get(name, {})) for name in names}})
        copied._named = {}
        return copied

    @property
    def company_object(self) -> str | None:
        """The company / account object this mapping scores, if any (its webhooks are accepted too)."""
        return self.company.object if self.company is not None else None

    @property
    def named_fields(self) -> list[str]:
        """The CRM fields of every named score in use."""
        return [f for name in self.scores for f in self.score_outputs(name).values() if f]

    @property
    def missing_outputs(self) -> list[str]:
        """Outputs this file does not mention (neither a field nor null)."""
        return [key for key in OUTPUT_BY_KEY if key not in self.outputs]

    def attribute(self, name: str) -> Attribute | None:
        """The catalogue entry of an attribute this mapping fills (built-in or the admin's own)."""
        if name in self.attributes:
            return ATTRIBUTES[name]
        own = self.custom_attributes.get(name)
        return None if own is None else custom_attribute(name, own.kind, own.label, own.decays)

    @property
    def attributes_in_use(self) -> list[Attribute]:
        """Every attribute this mapping fills, built-ins first."""
        names = [*self.attributes, *self.custom_attributes]
        return [a for name in names if (a := self.attribute(name)) is not None]

    def sources(self) -> dict[str, AttributeMapping]:
        """Attribute name -> where it comes from, built-ins and the admin's own alike."""
        return {**self.attributes, **self.custom_attributes}

    @property
    def known_after_contact(self) -> list[str]:
        """Attributes the admin declares are only known after contact (`known: after_contact`)."""
        return [name for name, found in self.sources().items() if found.known == "after_contact"]

    @property
    def own_fields(self) -> frozenset[str]:
        """CRM fields leadtherm writes: a change to only these is our own echo."""
        return frozenset([*(v for v in self.outputs.values() if v), *self.named_fields])

    @property
    def read_fields(self) -> list[str]:
        """Every CRM field to fetch: the sources of every attribute and the current outputs."""
        names = [self.id_field]
        for mapping in self.sources().values():
            names.extend(mapping.sources)
        names.extend(v for v in self.outputs.values() if v)
        names.extend(self.named_fields)
        if self.company is not None:  # the person's company id travels with the person: no extra call
            names.extend(self.company.link.values())
        return list(dict.fromkeys(names))


__all__ = [
    "TEMPERATURES",
    "AttributeMapping",
    "Condition",
    "CrmMapping",
    "CustomAttribute",
    "DaysAgo",
    "NamedScoringRules",
    "Rule",
    "ScoreDefinition",
    "ScoringRules",
]
