"""Company / account scores: the `company:` section of a CRM mapping and the rules in `scoring.company.yaml`.

Validated once at load (with file and line, through `mappings.loader.load_file`); the roll-up in
`integration.domain.company` trusts these objects.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings.catalogue import COMPANY_KINDS, COMPANY_OUTPUT_BY_KEY, Kind
from mappings.grammar import COMPANY_RULES_FILE

# Not imported from mappings.schema: its CrmMapping holds a CompanyMapping, so schema imports this module.
Scalar = str | int | float | bool
POINTS_BOUND = 100


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


COMPANY_OUTPUTS = tuple(COMPANY_OUTPUT_BY_KEY)  # what a company score writes (declared in the catalogue)
_ATTRIBUTE = r"^[a-z][a-z0-9_]*$"


class CompanyAttribute(Strict):
    """One company attribute: the CRM field it comes from, how to read it, and an optional value map."""

    field: str = Field(min_length=1)
    kind: Kind = "text"  # one of COMPANY_KINDS
    map: dict[str, Scalar | None] | None = None

    @field_validator("kind")
    @classmethod
    def _company_kind(cls, value: Kind) -> Kind:
        if value not in COMPANY_KINDS:
            raise ValueError(f"kind {value!r}: a company attribute is {', '.join(COMPANY_KINDS)}")
        return value


class CompanyMapping(Strict):
    """The `company:` section of a CRM mapping file: the company object, its people's link, fields in and out."""

    object: str = Field(min_length=1)  # the CRM's object: HubSpot "companies", Salesforce "Account"
    id_field: str = Field(min_length=1)
    # Person object -> the field on it that holds its company's id (read with the person: no extra call).
    link: dict[str, str] = Field(min_length=1)
    attributes: dict[str, CompanyAttribute] = Field(default_factory=dict)
    # A field that says the company already bought (a won deal): "customer" whatever its people say.
    customer_field: str | None = None
    outputs: dict[str, str | None]

    @field_validator("attributes")
    @classmethod
    def _names(cls, value: dict[str, CompanyAttribute]) -> dict[str, CompanyAttribute]:
        for name in value:
            if not re.match(_ATTRIBUTE, name):
                raise ValueError(f"{name!r}: an attribute name is lower case letters, digits and _")
        return value

    @field_validator("outputs")
    @classmethod
    def _outputs_known(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        unknown = sorted(set(value) - set(COMPANY_OUTPUTS))
        if unknown:
            raise ValueError(f"unknown company output {unknown[0]!r} (known: {', '.join(COMPANY_OUTPUTS)})")
        return value

    @property
    def own_fields(self) -> frozenset[str]:
        """Company fields leadtherm writes: a change to only these is our own echo."""
        return frozenset(v for v in self.outputs.values() if v)

    @property
    def read_fields(self) -> list[str]:
        """Every company field to fetch: its attributes, the customer flag and the current outputs."""
        names = [self.id_field, *(a.field for a in self.attributes.values())]
        if self.customer_field:
            names.append(self.customer_field)
        names.extend(v for v in self.outputs.values() if v)
        return list(dict.fromkeys(names))

    @property
    def trigger_fields(self) -> frozenset[str]:
        """Company fields whose change can move its score."""
        return frozenset(self.read_fields) - self.own_fields


class CompanyRule(Strict):
    """A fit rule on a company attribute: one test, its points and the label its reason shows."""

    attribute: str = Field(pattern=_ATTRIBUTE)
    label: str = Field(min_length=1, max_length=80)
    points: float = Field(ge=-POINTS_BOUND, le=POINTS_BOUND)
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        tests = [t for t in (self.equals, self.in_, self.at_least, self.at_most) if t is not None]
        if not tests:
            raise ValueError("needs a test: equals, in, at_least or at_most")
        if self.equals is not None and self.in_ is not None:
            raise ValueError("equals and in are two tests: keep one")
        return self


class Engagement(Strict):
    """How people's engagement adds up to the company's."""

    # The weight of the most engaged person, the next, ...; the last weight repeats (diminishing returns).
    weights: list[float] = Field(default=[1.0, 0.5, 0.3, 0.2, 0.1], min_length=1)
    engaged_at: int = Field(default=20, ge=1, le=100)  # a person counts as engaged from this engagement
    points_per_role: float = Field(default=8.0, ge=0, le=POINTS_BOUND)  # each distinct role engaged
    coverage_cap: float = Field(default=24.0, ge=0, le=POINTS_BOUND)

    @field_validator("weights")
    @classmethod
    def _diminishing(cls, value: list[float]) -> list[float]:
        if any(w < 0 or w > 1 for w in value):
            raise ValueError("each weight is between 0 and 1")
        if any(later > earlier for earlier, later in itertools.pairwise(value)):
            raise ValueError("weights must not grow: the returns diminish (largest first)")
        return value


class CompanyWeights(Strict):
    fit: float = Field(default=0.4, ge=0, le=1)
    engagement: float = Field(default=0.6, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Self:
        if abs(self.fit + self.engagement - 1) > 1e-9:
            raise ValueError(
                f"fit and engagement weights must add up to 1 (they add up to {self.fit + self.engagement:g})"
            )
        return self


class CompanyThresholds(Strict):
    cool: int = Field(default=25, ge=0, le=100)
    warm: int = Field(default=50, ge=0, le=100)
    hot: int = Field(default=75, ge=0, le=100)

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if not self.cool < self.warm < self.hot:
            raise ValueError(f"thresholds must rise: cool {self.cool} < warm {self.warm} < hot {self.hot}")
        return self


class CompanyRules(Strict):
    """The whole of `scoring.company.yaml`."""

    fit: list[CompanyRule] = Field(default_factory=list)
    engagement: Engagement = Field(default_factory=Engagement)
    weights: CompanyWeights = Field(default_factory=CompanyWeights)
    thresholds: CompanyThresholds = Field(default_factory=CompanyThresholds)


def unknown_attributes(rules: CompanyRules, mappings: dict[str, CompanyMapping]) -> list[tuple[int, str]]:
    """(index in `fit:`, message) for each rule on an attribute no CRM in use maps: it could never fire."""
    problems = []
    for index, rule in enumerate(rules.fit):
        lacking = sorted(crm for crm, mapping in mappings.items() if rule.attribute not in mapping.attributes)
        if lacking:
            problems.append((index, f"{rule.attribute!r} is not among the company attributes of {', '.join(lacking)}"))
    return problems


def load_company_rules(folder: str | os.PathLike[str] | None = None) -> CompanyRules:
    """`scoring.company.yaml` from the rules folder; ConfigError with file and line when it is wrong."""
    from mappings.loader import load_file, mappings_dir

    return load_file(CompanyRules, Path(mappings_dir(folder)) / COMPANY_RULES_FILE)


__all__ = [
    "COMPANY_OUTPUTS",
    "COMPANY_RULES_FILE",
    "CompanyAttribute",
    "CompanyMapping",
    "CompanyRule",
    "CompanyRules",
    "load_company_rules",
    "unknown_attributes",
]
