"""Time to calibrate 100,000 rows of history: read, features, fit, integer points, bands, holdout figures."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from integration.calibration.calibrate import calibrate
from integration.calibration.checks import leakage
from integration.calibration.history import read_history
from integration.calibration.writer import scoring_yaml
from mappings.loader import load_file, load_rules
from mappings.schema import CrmMapping
from tests.calibration_data import write_history, write_mapping

ROWS = 100_000


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_history(Path(tmp) / "history.csv", rows=ROWS, seed=5)
        mapping = load_file(CrmMapping, write_mapping(Path(tmp) / "sheet.yaml"))
        started = time.perf_counter()
        history = read_history(path, mapping, "won", outcome_date="closed_at")
        read_s = time.perf_counter() - started
        leaky = {leak.attribute for leak in leakage(history.leads, history.outcomes, mapping)}
        result = calibrate(history, load_rules(), holdout=0.3, seed=7, leave_out=leaky)
        scoring_yaml(result, 7, 0.3)
        total_s = time.perf_counter() - started
    rules = len(result.placed)
    return f"""## Calibration (`leadtherm calibrate`)

| measure | value |
|---|---|
| history rows (synthetic CSV: known generating rule, one leaky column) | {ROWS:,} |
| reading and normalising the export through the mapping | {read_s:.1f} s |
| total: read, leak check, features, stratified split, logistic regression, integer points, bands, holdout AUCs, YAML | **{total_s:.1f} s** |
| rules learned (non-zero points) / leaky columns left out | {rules} / {len(leaky)} |
| holdout ROC AUC: integer points / raw model / default rules | {result.points_auc:.3f} / {result.model_auc:.3f} / {result.current_auc:.3f} |
"""
