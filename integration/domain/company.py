"""Company / account scores, rolled up from the company's own fields and its people's assessments: pure.

Fit comes from the company's attributes; engagement from its people's decayed engagement with
diminishing returns (the most engaged person counts fully, the next less, ...), plus points for each
distinct role (seniority) among its engaged people: how much of a buying group is engaged. Reasons
name people by role and temperature, never by name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integration.domain.model import Reason, Stage, Temperature
from integration.domain.normalize import to_boolean, to_number, to_text
from mappings.company import CompanyMapping, CompanyRule, CompanyRules


@dataclass(frozen=True, slots=True)
class Member:
    """One person of a company, as the roll-up needs them: no name, no e-mail."""

    record_id: str
    role: str | None  # the person's seniority (executive, director, manager, ...), None when unknown
    temperature: Temperature
    engagement: int  # already decayed
    stage: Stage
    next_drop_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CompanyAssessment:
    score: int
    fit: int
    engagement: int
    temperature: Temperature
    stage: Stage
    engaged_people: int
    coverage: int  # distinct roles among the engaged people
    reasons: tuple[Reason, ...]
    next_drop_at: datetime | None

    def summary(self) -> str:
        """The reasons as one line for a CRM text field."""
        return "; ".join(str(r) for r in self.reasons) or "No fit or engagement yet"


_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_IRREGULAR = {"executive": "executives", "individual": "individual contributors"}
_VOWELS = "aeiou"


def _people(count: int, role: str | None) -> str:
    """'a director', 'an executive', 'two managers', '12 people'."""
    noun = role or "person"
    if noun == "individual":
        noun = "individual contributor"
    if count == 1:
        return f"{'an' if noun[0] in _VOWELS else 'a'} {noun}"
    plural = "people" if role is None else _IRREGULAR.get(role, f"{noun}s")
    return f"{_NUMBERS[count] if count < len(_NUMBERS) else count} {plural}"


def describe_engaged(members: Sequence[Member]) -> str:
    """'3 engaged: a director (warm), two managers (cool)': warmest groups first."""
    groups = Counter((m.role, m.temperature) for m in members)
    ordered = sorted(groups.items(), key=lambda g: (-g[0][1].rank, -g[1], g[0][0] or "~"))
    parts = [f"{_people(count, role)} ({temperature})" for (role, temperature), count in ordered]
    return f"{len(members)} engaged: {', '.join(parts)}"


def read_company(record: Mapping[str, Any], mapping: CompanyMapping) -> dict[str, Any]:
    """A company record's attributes by name, read as their kind (None when empty or unreadable)."""
    values: dict[str, Any] = {}
    for name, spec in mapping.attributes.items():
        raw = record.get(spec.field)
        if spec.map is not None and raw is not None:
            raw = spec.map.get(str(raw), raw)
        if spec.kind == "number":
            try:
                values[name] = to_number(raw)
            except ValueError:
                values[name] = None
        elif spec.kind == "boolean":
            try:
                values[name] = to_boolean(raw)
            except ValueError:
                values[name] = None
        else:
            text = to_text(raw)
            values[name] = text.strip().lower() if text else None
    return values


def _matches(rule: CompanyRule, value: Any) -> bool:
    if value is None:
        return False
    if rule.equals is not None:
        return _same(rule.equals, value)
    if rule.in_ is not None:
        return any(_same(option, value) for option in rule.in_)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    if rule.at_least is not None and value < rule.at_least:
        return False
    return rule.at_most is None or value <= rule.at_most


def _same(expected: Any, value: Any) -> bool:
    if isinstance(expected, str) and isinstance(value, str):
        return expected.strip().lower() == value
    return bool(expected == value)


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


def _temperature(score: int, rules: CompanyRules) -> Temperature:
    t = rules.thresholds
    if score >= t.hot:
        return Temperature.HOT
    if score >= t.warm:
        return Temperature.WARM
    if score >= t.cool:
        return Temperature.COOL
    return Temperature.COLD


def assess_company(
    values: Mapping[str, Any], members: Sequence[Member], rules: CompanyRules, customer: bool = False
) -> CompanyAssessment:
    """Roll a company up from its attributes and its people (already assessed, decay included)."""
    fit_lines = [Reason("fit", r.label, r.points) for r in rules.fit if _matches(r, values.get(r.attribute))]
    fit = round(_clamp(sum(r.points for r in fit_lines)))

    spec = rules.engagement
    ranked = sorted(members, key=lambda m: -m.engagement)
    weights = [spec.weights[min(i, len(spec.weights) - 1)] for i in range(len(ranked))]
    from_people = sum(w * m.engagement for w, m in zip(weights, ranked, strict=True))
    engaged = [m for m in ranked if m.engagement >= spec.engaged_at]
    roles = {m.role for m in engaged if m.role}
    coverage_points = min(spec.coverage_cap, spec.points_per_role * len(roles))
    engagement = round(_clamp(from_people + coverage_points))

    score = round(_clamp(rules.weights.fit * fit + rules.weights.engagement * engagement))
    won = customer or any(m.stage is Stage.CUSTOMER for m in members)
    stage = Stage.CUSTOMER if won else max((m.stage for m in members), key=lambda s: s.rank, default=Stage.SUSPECT)

    reasons = [*fit_lines]
    if engaged:
        # Points on the engagement axis (0-100), as the fit lines are on theirs: whole points, as people read them.
        reasons.append(Reason("engagement", describe_engaged(engaged), float(round(from_people))))
    elif members:
        reasons.append(Reason("engagement", f"none of {len(members)} people engaged yet", 0.0))
    if roles:
        label = f"buying group: {len(roles)} role{'s' if len(roles) > 1 else ''} engaged ({', '.join(sorted(roles))})"
        reasons.append(Reason("engagement", label, float(round(coverage_points))))
    if won:
        reasons.append(Reason("stage", "a deal is won: customer", 0.0))
    drops = [m.next_drop_at for m in engaged if m.next_drop_at is not None]
    return CompanyAssessment(
        score=score,
        fit=fit,
        engagement=engagement,
        temperature=_temperature(score, rules),
        stage=stage,
        engaged_people=len(engaged),
        coverage=len(roles),
        reasons=tuple(reasons),
        next_drop_at=min(drops, default=None),
    )


def company_outputs(assessment: CompanyAssessment, mapping: CompanyMapping) -> dict[str, Any]:
    """CRM field -> value to hold, for every mapped company output."""
    values: dict[str, Any] = {
        "score": assessment.score,
        "fit": assessment.fit,
        "engagement": assessment.engagement,
        "temperature": assessment.temperature.value,
        "stage": assessment.stage.value,
        "reasons": assessment.summary(),
        "engaged_people": assessment.engaged_people,
        "coverage": assessment.coverage,
    }
    return {field: values[key] for key, field in mapping.outputs.items() if field}


def changed_outputs(wanted: Mapping[str, Any], held: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs whose CRM value differs from what the company should hold (numbers compared as numbers)."""
    return {name: value for name, value in wanted.items() if not _held_equal(value, held.get(name))}


def _held_equal(value: Any, held: Any) -> bool:
    if held is None or held == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(held) == float(value)
        except (TypeError, ValueError):
            return False
    return str(held) == str(value)


__all__ = [
    "CompanyAssessment",
    "Member",
    "assess_company",
    "changed_outputs",
    "company_outputs",
    "describe_engaged",
    "read_company",
]
