"""Coefficients -> integer points that span the 0-100 score, placed into fit, engagement and penalties."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from integration.calibration.features import Feature, Group
from mappings.schema import ScoringRules

SCORE_RANGE = 100


@dataclass(frozen=True)
class Placed:
    """One learned rule: its feature, where it went, its points and the coefficient behind them."""

    feature: Feature
    axis: str  # "fit", "engagement" or "penalties"
    points: int
    coefficient: float


def reach(values: Sequence[float], features: Sequence[Feature]) -> tuple[float, float]:
    """The lowest and highest total one lead can reach, given which features exclude or nest in others."""
    groups: dict[tuple[str, Group], list[float]] = {}
    low = high = 0.0
    for value, feature in zip(values, features, strict=True):
        if feature.combine is Group.INDEPENDENT:
            low, high = low + min(0.0, value), high + max(0.0, value)
        else:
            groups.setdefault((feature.group, feature.combine), []).append(value)
    for (_, combine), members in groups.items():
        # Nested thresholds come sorted by edge, so a lead reaches exactly a prefix of them.
        sums = [0.0, *accumulate(members)] if combine is Group.NESTED else [0.0, *members]
        low, high = low + min(sums), high + max(sums)
    return low, high


def to_points(coefficients: Sequence[float], features: Sequence[Feature]) -> tuple[list[int], int]:
    """Integer points proportional to the coefficients, and the baseline that keeps every score in 0-100."""
    low, high = reach(coefficients, features)
    scale = SCORE_RANGE / (high - low) if high > low else 0.0
    while True:
        points = [round(c * scale) for c in coefficients]
        int_low, int_high = reach(points, features)
        # Rounding can overshoot the range by a point or two; shrink until it fits (no clamping, ever).
        if int_high - int_low <= SCORE_RANGE:
            return points, int(-int_low)
        scale *= 0.995


def place(
    features: Sequence[Feature], decayed: Sequence[bool], coefficients: Sequence[float], points: Sequence[int]
) -> list[Placed]:
    """Positive evidence into fit (engagement if it decays), negative into penalties; zero points dropped."""
    placed = []
    for feature, decays, coefficient, value in zip(features, decayed, coefficients, points, strict=True):
        if value == 0:
            continue
        axis = "penalties" if value < 0 else "engagement" if decays else "fit"
        placed.append(Placed(feature, axis, value, coefficient))
    return placed


def assemble(
    current: ScoringRules, placed: Sequence[Placed], baseline: int, thresholds: tuple[int, int, int]
) -> ScoringRules:
    """The calibrated rules: learned points and bands; the admin's decay, qualification gate and next actions."""
    by_axis: dict[str, list[dict[str, Any]]] = {"fit": [], "engagement": [], "penalties": []}
    for rule in sorted(placed, key=lambda p: -abs(p.points)):
        by_axis[rule.axis].append(
            rule.feature.rule.model_copy(update={"points": float(rule.points)}).model_dump(
                by_alias=True, exclude_none=True
            )
        )
    cool, warm, hot = thresholds
    return ScoringRules.model_validate(
        {
            "version": 1,
            # The points are already on the score's scale: fit + engagement (decayed) + penalties.
            "weights": {"fit": 1.0, "engagement": 1.0},
            "decay": current.decay.model_dump(),
            "temperature": {"cool": cool, "warm": warm, "hot": hot},
            # The hot gate is the admin's decision about what "qualified" means: never learned away.
            "qualification": current.qualification.model_dump(),
            "stage": {"mql_score": warm},
            # Every lead starts here; the scorer never shows it as a reason.
            "starting_points": baseline,
            **by_axis,
            "next_actions": current.next_actions.model_dump(),
        }
    )
