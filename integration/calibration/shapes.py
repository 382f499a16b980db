"""Per-attribute shapes learned jointly: cyclic gradient boosting over each attribute's bins, as an EBM does.

Every round visits each attribute in turn and moves the log-odds of its bins one damped Newton step towards
what the others leave unexplained, so collinear attributes share an effect instead of both claiming it.
Boosting stops when the inner validation split (a part of the training leads) stops improving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]
    Codes = npt.NDArray[np.int64]

LEARNING_RATE = 0.3
SMOOTHING = 4.0  # added to each bin's curvature: a thin bin moves less per round
MAX_ROUNDS = 300
PATIENCE = 12  # rounds without a better validation loss before stopping


@dataclass(frozen=True)
class Spec:
    """What the booster needs of one term: bins per lead and how its points may move."""

    codes: Codes  # over the whole history
    size: int
    decays: bool = False  # engagement: scaled by each lead's decay factor, never below 0
    sign: int = 0  # +1 never below 0, -1 never above 0, 0 free
    fixed: int | None = None  # a bin held at 0 (no events)


@dataclass(frozen=True)
class Shapes:
    """The learned log-odds: one value per bin of each term, and the intercept."""

    intercept: float
    scores: list[Vector]
    rounds: int

    def log_odds(self, specs: Sequence[Spec], rows: Sequence[int], factors: Vector) -> Vector:
        """Each row's log-odds of converting under these shapes."""
        import numpy as np

        index = np.asarray(rows, dtype=np.int64)
        total = np.full(index.size, self.intercept)
        for spec, score in zip(specs, self.scores, strict=True):
            part = score[spec.codes[index]]
            total += part * factors[index] if spec.decays else part
        return total


def _sigmoid(x: Vector) -> Vector:
    import numpy as np

    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=float)


def loss(log_odds: Vector, truth: Vector, weights: Vector) -> float:
    """Weighted mean log loss."""
    import numpy as np

    return float(np.sum(weights * (np.logaddexp(0.0, log_odds) - truth * log_odds)) / np.sum(weights))


def boost(
    specs: Sequence[Spec],
    truth: Vector,
    weights: Vector,
    factors: Vector,
    rows: Sequence[int],
    check: Sequence[int] | None = None,
    start: Shapes | None = None,
    rounds: int = MAX_ROUNDS,
) -> Shapes:
    """Shapes fitted on `rows`; with `check`, stopped at the round that predicts those rows best."""
    import numpy as np

    fit = np.asarray(rows, dtype=np.int64)
    y, w = truth[fit], weights[fit]
    codes = [s.codes[fit] for s in specs]
    scale = [factors[fit] if s.decays else None for s in specs]
    if start is None:
        rate = float(np.sum(w * y) / np.sum(w))
        intercept = float(np.log(rate / (1 - rate)))
        scores = [np.zeros(s.size) for s in specs]
    else:
        intercept = start.intercept
        scores = [s.copy() for s in start.scores] + [np.zeros(s.size) for s in specs[len(start.scores) :]]
    counts = [np.bincount(c, weights=w, minlength=s.size) for c, s in zip(codes, specs, strict=True)]
    current = Shapes(intercept, scores, 0)
    total = current.log_odds(specs, rows, factors)
    held = None if check is None else np.asarray(check, dtype=np.int64)
    held_total = None if check is None else current.log_odds(specs, check, factors)
    best = (np.inf, current)
    stalled = 0
    for round_ in range(1, rounds + 1):
        for t, spec in enumerate(specs):
            p = _sigmoid(total)
            g = w * (p - y)
            h = w * p * (1 - p)
            m = scale[t]
            if m is None:
                grad = np.bincount(codes[t], weights=g, minlength=spec.size)
                curve = np.bincount(codes[t], weights=h, minlength=spec.size)
            else:
                grad = np.bincount(codes[t], weights=g * m, minlength=spec.size)
                curve = np.bincount(codes[t], weights=h * m * m, minlength=spec.size)
            moved = scores[t] - LEARNING_RATE * grad / (curve + SMOOTHING)
            if spec.sign > 0:
                moved = np.maximum(moved, 0.0)
            elif spec.sign < 0:
                moved = np.minimum(moved, 0.0)
            if spec.fixed is not None:
                moved[spec.fixed] = 0.0
            elif spec.sign == 0 and not spec.decays:
                # Centred on the training leads: the shape says how a value differs from the average lead.
                mean = float(moved @ counts[t] / counts[t].sum())
                moved = moved - mean
                intercept += mean
                total += mean
                if held_total is not None:
                    held_total += mean
            step = moved - scores[t]
            scores[t] = moved
            total += step[codes[t]] if m is None else step[codes[t]] * m
            if held is not None and held_total is not None:
                part = step[spec.codes[held]]
                held_total += part * factors[held] if spec.decays else part
        p = _sigmoid(total)
        shift = -float(np.sum(w * (p - y)) / (np.sum(w * p * (1 - p)) + 1e-12))
        intercept += shift
        total += shift
        if held is None or held_total is None:
            continue
        held_total += shift
        now = loss(held_total, truth[held], weights[held])
        if now < best[0] - 1e-7:
            best = (now, Shapes(intercept, [s.copy() for s in scores], round_))
            stalled = 0
        else:
            stalled += 1
            if stalled >= PATIENCE:
                break
    if held is not None:
        return best[1]
    return Shapes(intercept, scores, rounds)
