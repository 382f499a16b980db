"""The calibration run: features, a fit on the training split, integer points, bands, honest holdout figures."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from integration.calibration.bands import Band, cells, choose, tally
from integration.calibration.features import Feature, candidates, decay_factor, indicators, weigh
from integration.calibration.history import CalibrationError, History
from integration.calibration.model import Fit, auc, fit, split
from integration.calibration.points import Placed, assemble, place, to_points
from integration.calibration.refine import finer_bins
from integration.scoring import assess
from mappings.schema import ScoringRules

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

REFITS = 3  # rounds of moving decaying features with negative weight out of engagement
_ANY_BANDS = (25, 50, 75)  # scores do not depend on the bands; any valid edges do for a first pass


@dataclass(frozen=True)
class Support:
    """On the training split: the share of leads a rule fires for, and how many of those converted."""

    share: float
    rate: float


@dataclass(frozen=True)
class Calibration:
    """The learned rules and everything the report says about them."""

    history: History
    current: ScoringRules
    rules: ScoringRules
    placed: list[Placed]
    baseline: int
    support: dict[str, Support]
    train: list[int]
    test: list[int]
    model_auc: float
    points_auc: float
    current_auc: float
    holdout_points: list[int]
    holdout_model: list[float]
    holdout_current: list[int]
    bands: list[Band]  # on the holdout

    @property
    def holdout_outcomes(self) -> list[int]:
        return [self.history.outcomes[i] for i in self.test]


def _fit_signed(
    fired: npt.NDArray[np.float64],
    factors: Sequence[float],
    features: Sequence[Feature],
    train: list[int],
    outcomes: list[int],
    seed: int,
    balanced: bool,
) -> tuple[Fit, list[bool]]:
    """Fit; a decaying feature that comes out negative is evidence against, so it is refit undecayed (a penalty)."""
    matrix = fired[train]
    weights = [factors[i] for i in train]
    decayed = [f.behaviour for f in features]
    model = fit(weigh(matrix, weights, decayed), outcomes, seed, balanced)
    for _ in range(REFITS):
        against = [d and c < 0 for d, c in zip(decayed, model.coefficients, strict=True)]
        if not any(against):
            break
        decayed = [d and not a for d, a in zip(decayed, against, strict=True)]
        model = fit(weigh(matrix, weights, decayed), outcomes, seed, balanced)
    # Engagement only ever adds (schema); whatever is still negative after the refits gets no points.
    coefficients = [0.0 if d and c < 0 else c for d, c in zip(decayed, model.coefficients, strict=True)]
    return Fit(coefficients, model.intercept), decayed


def _support(
    fired: npt.NDArray[np.float64],
    placed: Sequence[Placed],
    features: Sequence[Feature],
    train: list[int],
    outcomes: list[int],
) -> dict[str, Support]:
    import numpy as np

    matrix = fired[train]
    truth = np.asarray(outcomes, dtype=float)
    column = {id(f): j for j, f in enumerate(features)}
    found = {}
    for rule in placed:
        hits = matrix[:, column[id(rule.feature)]] > 0
        count = int(hits.sum())
        found[rule.feature.rule.label] = Support(count / len(train), float(truth[hits].mean()) if count else 0.0)
    return found


def _features(
    history: History, current: ScoringRules, leave_out: Collection[str], bins: dict[str, int]
) -> list[Feature]:
    found = candidates(history.leads, current, history.attributes, bins)
    features = [f for f in found if f.rule.attribute not in leave_out]
    if not features:
        raise CalibrationError(
            f"{history.source}: no mapped column varies enough to learn from (each value needs 20+ leads)"
        )
    return features


def calibrate(
    history: History,
    current: ScoringRules,
    holdout: float = 0.3,
    seed: int = 7,
    balanced: bool = False,
    leave_out: Collection[str] = (),
) -> Calibration:
    """Learn points on a stratified training split; measure them, the raw model and the current rules on the rest.

    `leave_out` names attributes not to learn from: columns that leak the outcome. The whole column goes,
    since its other values are the leaky value's complement ("not yet a customer") and leak as much.
    """
    leads, outcomes = history.leads, history.outcomes
    factors = [
        decay_factor(lead.last_engagement_at, moment, current.decay)
        for lead, moment in zip(leads, history.as_of, strict=True)
    ]
    train, test = split(outcomes, holdout, seed)
    train_outcomes = [outcomes[i] for i in train]
    features = _features(history, current, leave_out, {})
    fired = indicators(leads, features)
    model, decayed = _fit_signed(fired, factors, features, train, train_outcomes, seed, balanced)
    # The first fit on coarse bins finds the strong numbers (on the training split only); cut them finer, refit.
    finer = finer_bins(model.coefficients, features, len(train))
    if finer:
        features = _features(history, current, leave_out, finer)
        fired = indicators(leads, features)
        model, decayed = _fit_signed(fired, factors, features, train, train_outcomes, seed, balanced)
    points, baseline = to_points(model.coefficients, features)
    placed = place(features, decayed, model.coefficients, points)

    draft = assemble(current, placed, baseline, _ANY_BANDS)
    trained = [assess(leads[i], draft, history.as_of[i]) for i in train]
    thresholds = choose([a.score for a in trained], [not a.missing_for_hot for a in trained], train_outcomes)
    rules = assemble(current, placed, baseline, thresholds)

    truth = [outcomes[i] for i in test]
    judged = [assess(leads[i], rules, history.as_of[i]) for i in test]
    scores = [a.score for a in judged]
    raw = model.log_odds(weigh(fired[test], [factors[i] for i in test], decayed)).tolist()
    before = [assess(leads[i], current, history.as_of[i]).score for i in test]
    return Calibration(
        history=history,
        current=current,
        rules=rules,
        placed=placed,
        baseline=baseline,
        support=_support(fired, placed, features, train, train_outcomes),
        train=train,
        test=test,
        model_auc=auc(truth, raw),
        points_auc=auc(truth, scores),
        current_auc=auc(truth, before),
        holdout_points=scores,
        holdout_model=raw,
        holdout_current=before,
        bands=tally(cells(scores, [not a.missing_for_hot for a in judged], truth), thresholds),
    )
