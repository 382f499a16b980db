"""Fit a regularised logistic regression on the rule features and turn it into integer points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integration.calibration.features import ENGAGEMENT_ATTRIBUTES, matrix
from integration.model import Lead
from integration.scoring import assess
from mappings.schema import Rule, ScoringRules

MAX_POINTS = 30  # the strongest rule is worth at most this many points
POSITIVE_BUDGET = 60  # all positive rules together; the rest of the 0-100 range is the baseline
NEGATIVE_BUDGET = 40


@dataclass(frozen=True)
class Fitted:
    rules: ScoringRules
    train: list[int]
    test: list[int]
    model_auc: float
    points_auc: float
    current_auc: float
    coefficients: list[float]


def _split(outcomes: Sequence[int], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    from sklearn.model_selection import train_test_split

    indices = list(range(len(outcomes)))
    train, test = train_test_split(indices, test_size=holdout, random_state=seed, stratify=list(outcomes))
    return sorted(train), sorted(test)


def _thresholds(scores: list[int]) -> tuple[int, int, int]:
    """Band edges at the training scores' 50th, 75th and 90th percentiles, kept strictly increasing."""
    ordered = sorted(scores)
    cool, warm, hot = (ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in (0.5, 0.75, 0.9))
    cool = max(1, min(cool, 97))
    warm = max(cool + 1, min(warm, 98))
    hot = max(warm + 1, min(hot, 99))
    return cool, warm, hot


def to_points(coefficients: Sequence[float]) -> list[int]:
    """Integer points proportional to the coefficients, sized so that no score ever needs clamping."""
    positive = sum(c for c in coefficients if c > 0) or 1.0
    negative = -sum(c for c in coefficients if c < 0) or 1.0
    scale = min(MAX_POINTS / max(abs(c) for c in coefficients), POSITIVE_BUDGET / positive, NEGATIVE_BUDGET / negative)
    return [round(c * scale) for c in coefficients]


def _baseline(points: Sequence[int]) -> Rule:
    """Every identified contact starts at what all penalties together could take away: scores stay >= 0."""
    lift = -sum(p for p in points if p < 0)
    return Rule(label="Identified contact (baseline)", attribute="has_contact_data", **{"is": True}, points=lift)


def calibrated_rules(
    current: ScoringRules, candidates: Sequence[Rule], points: Sequence[int], scores: list[int] | None = None
) -> ScoringRules:
    fit: list[Rule] = [_baseline(points)] if any(p < 0 for p in points) else []
    engagement: list[Rule] = []
    penalties: list[Rule] = []
    for rule, value in zip(candidates, points, strict=True):
        if value == 0:
            continue
        placed = rule.model_copy(update={"points": float(value)})
        if value < 0:
            penalties.append(placed)
        elif rule.attribute in ENGAGEMENT_ATTRIBUTES:
            engagement.append(placed)
        else:
            fit.append(placed)
    cool, warm, hot = (
        _thresholds(scores) if scores else (current.temperature.cool, current.temperature.warm, current.temperature.hot)
    )
    data: dict[str, Any] = current.model_dump(by_alias=True, exclude_none=True)
    data.update(
        weights={"fit": 1.0, "engagement": 1.0},
        temperature={"cool": cool, "warm": warm, "hot": hot},
        stage={"mql_score": warm},
        fit=[r.model_dump(by_alias=True, exclude_none=True) for r in fit],
        engagement=[r.model_dump(by_alias=True, exclude_none=True) for r in engagement],
        penalties=[r.model_dump(by_alias=True, exclude_none=True) for r in penalties],
    )
    # The hot gate on qualification is the admin's, never learned away.
    data["qualification"] = current.qualification.model_dump()
    return ScoringRules.model_validate(data)


def learn(
    leads: Sequence[Lead], outcomes: Sequence[int], candidates: Sequence[Rule], current: ScoringRules,
    as_of: datetime, holdout: float, seed: int,
) -> Fitted:  # fmt: skip
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    features = matrix(leads, candidates)
    train, test = _split(outcomes, holdout, seed)
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    model.fit([features[i] for i in train], [outcomes[i] for i in train])
    coefficients = [float(c) for c in model.coef_[0]]
    points = to_points(coefficients)
    draft = calibrated_rules(current, candidates, points)
    train_scores = [assess(leads[i], draft, as_of).score for i in train]
    rules = calibrated_rules(current, candidates, points, train_scores)
    truth = [outcomes[i] for i in test]
    model_auc = float(roc_auc_score(truth, model.predict_proba([features[i] for i in test])[:, 1]))
    points_auc = float(roc_auc_score(truth, [assess(leads[i], rules, as_of).score for i in test]))
    current_auc = float(roc_auc_score(truth, [assess(leads[i], current, as_of).score for i in test]))
    return Fitted(rules, train, test, model_auc, points_auc, current_auc, coefficients)
