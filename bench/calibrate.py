"""Time to calibrate 100,000 rows of history (features, fit, points, holdout report figures)."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from integration.calibration.features import candidate_rules
from integration.calibration.history import read_history
from integration.calibration.learn import learn
from mappings.loader import load_mapping, load_rules
from tests.calibration_data import write_history

ROWS = 100_000


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_history(Path(tmp) / "history.csv", rows=ROWS, seed=5)
        started = time.perf_counter()
        history = read_history(path, load_mapping("hubspot"), "converted")
        read_s = time.perf_counter() - started
        candidates = candidate_rules(history.leads, load_rules().penalties)
        fitted = learn(
            history.leads, history.outcomes, candidates, load_rules(), datetime(2026, 11, 1, tzinfo=UTC), 0.3, 7
        )
        total_s = time.perf_counter() - started
    return f"""## Calibration (`leadtherm calibrate`)

| measure | value |
|---|---|
| history rows (synthetic, known generating rule, one leaky column) | {ROWS:,} |
| reading and normalising the export | {read_s:.1f} s |
| total: features, stratified split, logistic regression, integer points, holdout AUCs | **{total_s:.1f} s** |
| holdout ROC AUC: integer points / raw model / default rules | {fitted.points_auc:.3f} / {fitted.model_auc:.3f} / {fitted.current_auc:.3f} |
"""
