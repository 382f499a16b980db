"""The statistics: a stratified holdout split, an L2-regularised logistic regression, ROC AUC.

scikit-learn and numpy are imported inside the functions: only `calibrate` needs them, and
`import integration.cli` must stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from integration.calibration.history import CalibrationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fit:
    """Coefficients (one per feature column, in log-odds) and the intercept."""

    coefficients: list[float]
    intercept: float

    def log_odds(self, features: Matrix) -> npt.NDArray[np.float64]:
        """The model's score for each row: higher means more likely to convert."""
        import numpy as np

        return np.asarray(features @ np.asarray(self.coefficients) + self.intercept, dtype=float)


def split(outcomes: Sequence[int], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Training and holdout row indices, each with the history's share of conversions (stratified)."""
    from sklearn.model_selection import train_test_split

    indices = list(range(len(outcomes)))
    try:
        train, test = train_test_split(indices, test_size=holdout, random_state=seed, stratify=list(outcomes))
    except ValueError as exc:  # too few rows for a holdout holding both outcomes
        raise CalibrationError(f"cannot hold out {holdout:.0%} of {len(outcomes)} leads: {exc}") from exc
    return sorted(int(i) for i in train), sorted(int(i) for i in test)


def fit(features: Matrix, outcomes: Sequence[int], seed: int, balanced: bool = False, strength: float = 1.0) -> Fit:
    """L2 logistic regression; `balanced` weighs the classes equally when conversions are rare."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=strength,
        l1_ratio=0.0,
        class_weight="balanced" if balanced else None,
        max_iter=5000,
        random_state=seed,
    )
    model.fit(features, list(outcomes))
    return Fit([float(c) for c in model.coef_[0]], float(model.intercept_[0]))


def auc(outcomes: Sequence[int], scores: Sequence[float] | npt.NDArray[np.float64]) -> float:
    """ROC AUC: the chance that a random converter scores above a random non-converter."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(list(outcomes), list(scores)))
