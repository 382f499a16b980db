"""Time to calibrate 100,000 rows of history: read, features, fit, integer points, bands, holdout figures."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from integration.calibration.calibrate import Calibration
from integration.calibration.history import History, read_history
from integration.calibration.session import run as calibrate_session
from integration.calibration.writer import scoring_yaml
from mappings.loader import load_file, load_rules
from mappings.schema import CrmMapping
from tests.calibration_data import (
    custom_rows,
    raw_columns_auc,
    write_custom_history,
    write_custom_mapping,
    write_history,
    write_mapping,
)

ROWS = 100_000


def _timed(
    history_path: Path, mapping: CrmMapping, outcome_date: str | None
) -> tuple[History, Calibration, int, float, float]:
    started = time.perf_counter()
    history = read_history(history_path, mapping, "won", outcome_date=outcome_date)
    read_s = time.perf_counter() - started
    # What `leadtherm calibrate` runs: the split, the leakage judgement, the learning, the verdict.
    outcome = calibrate_session(history, load_rules())
    scoring_yaml(outcome.calibration, 7, 0.3)
    return history, outcome.calibration, len(outcome.left_out), read_s, time.perf_counter() - started


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_history(folder / "history.csv", rows=ROWS, seed=5)
        mapping = load_file(CrmMapping, write_mapping(folder / "sheet.yaml"))
        _, result, leaks, read_s, total_s = _timed(path, mapping, "closed_at")
        own = write_custom_history(folder / "custom.csv", rows=ROWS, seed=5)
        own_mapping = load_file(CrmMapping, write_custom_mapping(folder / "custom.yaml"))
        _, custom, _, _, custom_s = _timed(own, own_mapping, None)
        reference = raw_columns_auc(custom_rows(ROWS, seed=5), custom.train, custom.test)
    steps = sum(1 for p in custom.placed if p.feature.rule.attribute == "trial_logins")
    return f"""## Calibration (`leadtherm calibrate`)

| measure | value |
|---|---|
| history rows (synthetic CSV: known generating rule, one leaky column) | {ROWS:,} |
| reading and normalising the export through the mapping | {read_s:.1f} s |
| total: read, leak check, features, stratified split, logistic regression, integer points, bands, holdout AUCs, YAML | **{total_s:.1f} s** |
| rules learned (non-zero points) / leaky columns left out | {len(result.placed)} / {leaks} |
| holdout ROC AUC: integer points / raw model / default rules | {result.points_auc:.3f} / {result.model_auc:.3f} / {result.current_auc:.3f} |
| custom-field history ({ROWS:,} rows; outcome mostly from custom `trial_logins` and `product_interest`): total | **{custom_s:.1f} s** |
| custom-field history: rules learned / of them steps on `trial_logins` (a strong number, cut finer) | {len(custom.placed)} / {steps} |
| custom-field history, holdout ROC AUC: integer points / raw model / scikit-learn on the raw columns | {custom.points_auc:.3f} / {custom.model_auc:.3f} / {reference:.3f} |
"""
