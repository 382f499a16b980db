"""The points scale, fixed as credit scorecards fix it, and the holdout AUC's confidence interval.

Every calibrated file uses the same scale: `POINTS_TO_DOUBLE` points double a lead's odds of converting, and a
score of `ANCHOR_SCORE` means odds of 1 to `ANCHOR_AGAINST` (a 20% chance). A history that separates converters
weakly therefore writes small points and a narrow spread; a strong one writes large points. Nothing is stretched
to fill 0-100; the scorer clips a total outside 0-100 and that clipping is all the score range forces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# 8 points double the odds: one point is a 9% change in the odds, finer than any rule needs, and 0-100 spans
# odds from 1:300 to 19:1 (chances of 0.3% to 95%) around the anchor below, where lead conversion lives:
# most leads convert far less often than not, so the anchor sits at 1:4 rather than at even odds.
POINTS_TO_DOUBLE = 8
POINTS_PER_LOG_ODDS = POINTS_TO_DOUBLE / math.log(2)
ANCHOR_SCORE = 50
ANCHOR_AGAINST = 4  # a score of 50 is odds of 1:4, a 20% chance of converting
CONFIDENCE_Z = 1.959964  # a 95% interval


def points(log_odds: float) -> int:
    """A change in log-odds as whole points on the fixed scale."""
    return math.floor(log_odds * POINTS_PER_LOG_ODDS + 0.5)


def score_of(log_odds: float) -> float:
    """Where a lead with these log-odds of converting sits on the 0-100 scale, before clipping."""
    return ANCHOR_SCORE + (log_odds + math.log(ANCHOR_AGAINST)) * POINTS_PER_LOG_ODDS


def _midranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks, tied values sharing the mean of their ranks."""
    import numpy as np

    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return np.asarray(((ends - counts + 1 + ends) / 2.0)[inverse], dtype=float)


def auc_interval(outcomes: Sequence[int], scores: Sequence[float]) -> tuple[float, float, float]:
    """ROC AUC and its 95% confidence interval by DeLong's method (exact variance of the Mann-Whitney statistic)."""
    import numpy as np

    truth = np.asarray(outcomes, dtype=bool)
    values = np.asarray(scores, dtype=float)
    positive, negative = values[truth], values[~truth]
    m, n = positive.size, negative.size
    together = _midranks(np.concatenate([positive, negative]))
    inside_pos, inside_neg = _midranks(positive), _midranks(negative)
    area = float((together[:m].sum() - m * (m + 1) / 2) / (m * n))
    v10 = (together[:m] - inside_pos) / n
    v01 = 1.0 - (together[m:] - inside_neg) / m
    spread = math.sqrt(float(np.var(v10, ddof=1)) / m + float(np.var(v01, ddof=1)) / n) if m > 1 and n > 1 else 0.5
    return area, max(0.0, area - CONFIDENCE_Z * spread), min(1.0, area + CONFIDENCE_Z * spread)
