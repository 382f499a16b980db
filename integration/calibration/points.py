"""Shapes -> integer points per value or range, each attribute in one section, and the calibrated rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integration.calibration.binning import Term
from integration.calibration.features import Feature, Group
from integration.calibration.pairs import Pair, condition, side_text
from integration.calibration.scale import points, score_of
from integration.calibration.shapes import Shapes, Spec
from mappings.grammar import SECTION_KEYS
from mappings.schema import POINTS_BOUND, Rule, ScoringRules

LABEL_LIMIT = 120  # the schema's longest label

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Placed:
    """One learned rule: its feature, where it went, its points and the log-odds behind them."""

    feature: Feature
    axis: str  # "fit", "engagement" or "penalties"
    points: int
    coefficient: float  # log-odds against the attribute's reference value
    term: int = -1  # which term (attribute) and bin of the calibration it stands for
    bin: int = -1
    pair: int = -1  # or which pairwise term (a compound rule: both parts hold)


@dataclass(frozen=True)
class Rendered:
    """The integer points: per attribute and bin, as rules, and the pairs as compound rules."""

    placed: list[Placed]
    table: list[list[int]]  # points per bin of each term, the reference at 0
    baseline: int
    compound: list[dict[str, Any]]


def _bounded(value: int) -> int:
    return max(-POINTS_BOUND, min(POINTS_BOUND, value))


def _condition(term: Term, index: int, axis: str) -> dict[str, Any]:
    found = term.bins[index]
    assert found.condition is not None
    wanted = dict(found.condition)
    if axis == "engagement" and "below" in wanted:
        # Engagement rules cannot use `below`: a whole-number range is the list of its values.
        low = int(wanted.get("at_least", 0))
        return {"in": list(range(low, int(wanted["below"])))}
    if term.integer and "at_least" in wanted:
        wanted = {k: float(v) for k, v in wanted.items()}
    return wanted


def _unique(label: str, seen: set[str]) -> str:
    """A label that fits the schema's 120 characters and names one rule only (a long value is cut short)."""
    found = label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"
    n = 2
    while found.casefold() in seen:
        suffix = f" ({n})"
        found = label if len(label) + len(suffix) <= LABEL_LIMIT else label[: LABEL_LIMIT - len(suffix) - 1] + "…"
        found += suffix
        n += 1
    seen.add(found.casefold())
    return found


def _axis(term: Term, spec: Spec, row: Sequence[int]) -> str:
    if spec.decays:
        return "engagement"
    return "penalties" if all(p <= 0 for p in row) else "fit"


def render(
    terms: Sequence[Term],
    specs: Sequence[Spec],
    shapes: Shapes,
    pairs: Sequence[Pair],
    interactions: Sequence[float],
) -> Rendered:
    """Whole points on the fixed scale for every bin, read against each attribute's reference bin."""
    anchor = shapes.intercept
    placed: list[Placed] = []
    table: list[list[int]] = []
    seen: set[str] = set()
    for t, (term, spec, score) in enumerate(zip(terms, specs, shapes.scores, strict=True)):
        reference = 0.0 if spec.decays else float(score[term.reference])
        anchor += reference
        relative = [float(s) - reference for s in score]
        row = [0 if b == term.reference else _bounded(points(r)) for b, r in enumerate(relative)]
        table.append(row)
        axis = _axis(term, spec, row)
        for b, value in enumerate(row):
            if value == 0 or term.bins[b].condition is None:
                continue
            label = _unique(term.label_of(b), seen)
            if term.kind == "class" and term.rule is not None:
                rule = term.rule.model_copy(update={"points": float(value)})
            else:
                rule = Rule.model_validate(
                    {"label": label, "attribute": term.name, **_condition(term, b, axis), "points": float(value)}
                )
            feature = Feature(rule, term.name, Group.EXCLUSIVE, behaviour=term.decays)
            placed.append(Placed(feature, axis, value, relative[b], t, b))
    compound = []
    for k, (pair, left) in enumerate(zip(pairs, interactions, strict=True)):
        value = _bounded(points(left))
        if value == 0:
            continue
        first, second = terms[pair.first], terms[pair.second]
        found = {
            "label": _unique(f"{side_text(first, pair.first_side)} and {side_text(second, pair.second_side)}", seen),
            "all": [condition(first, pair.first_side), condition(second, pair.second_side)],
            "points": value,
        }
        compound.append(found)
        rule = Rule.model_validate({**found, "points": float(value)})
        feature = Feature(rule, f"{first.name} and {second.name}", Group.INDEPENDENT, behaviour=False)
        placed.append(Placed(feature, "fit" if value > 0 else "penalties", value, left, pair=k))
    baseline = max(-POINTS_BOUND, min(POINTS_BOUND, round(score_of(anchor))))
    return Rendered(placed, table, baseline, compound)


def assemble(
    current: ScoringRules,
    placed: Sequence[Placed],
    baseline: int,
    thresholds: tuple[int, int, int],
    required: Sequence[str] | None = None,
) -> ScoringRules:
    """The calibrated rules: learned points and bands; the admin's decay, qualification gate and next actions."""
    by_axis: dict[str, list[dict[str, Any]]] = {key: [] for key in SECTION_KEYS}
    # One attribute's rules stay together, strongest attribute first, its values in their own order.
    strength: dict[str, int] = {}
    for rule in placed:
        name = rule.feature.group
        strength[name] = max(strength.get(name, 0), abs(rule.points))
    for rule in sorted(placed, key=lambda p: (-strength[p.feature.group], p.feature.group, p.term, p.bin)):
        by_axis[rule.axis].append(
            rule.feature.rule.model_copy(update={"points": float(rule.points)}).model_dump(
                by_alias=True, exclude_none=True
            )
        )
    cool, warm, hot = thresholds
    gate = list(required) if required else list(current.qualification.required)
    return ScoringRules.model_validate(
        {
            "version": 1,
            # The points are already on the score's scale: fit + engagement (decayed) + penalties.
            "weights": {"fit": 1.0, "engagement": 1.0},
            "decay": current.decay.model_dump(),
            "temperature": {"cool": cool, "warm": warm, "hot": hot},
            # The hot gate is the admin's decision about what "qualified" means: never learned away.
            "qualification": {"required": gate},
            "stage": {"mql_score": warm},
            "grid": current.grid.model_dump(),  # the admin's cut points, kept
            # Every lead starts here; the scorer never shows it as a reason.
            "starting_points": baseline,
            **by_axis,
            "next_actions": current.next_actions.model_dump(),
        }
    )
