"""The statistics: a stratified holdout split and ROC AUC.

scikit-learn and numpy are imported inside the functions: only `calibrate` needs them, and
`import integration.cli` must stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from integration.calibration.history import CalibrationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def split(outcomes: Sequence[int], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Training and holdout row indices, each with the history's share of conversions (stratified)."""
    from sklearn.model_selection import train_test_split

    indices = list(range(len(outcomes)))
    try:
        train, test = train_test_split(indices, test_size=holdout, random_state=seed, stratify=list(outcomes))
    except ValueError as exc:  # too few rows for a holdout holding both outcomes
        raise CalibrationError(f"cannot hold out {holdout:.0%} of {len(outcomes)} leads: {exc}") from exc
    return sorted(int(i) for i in train), sorted(int(i) for i in test)


def auc(outcomes: Sequence[int], scores: Sequence[float] | npt.NDArray[np.float64]) -> float:
    """ROC AUC: the chance that a random converter scores above a random non-converter."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(list(outcomes), list(scores)))
