"""Write calibrated rules as a readable scoring.yaml that `leadtherm check` accepts."""

from __future__ import annotations

from pathlib import Path

import yaml

from integration.calibration.learn import Fitted
from mappings.loader import read_yaml, validate
from mappings.schema import ScoringRules


def scoring_yaml(fitted: Fitted, source: str, leads: int, conversions: int, seed: int) -> str:
    data = fitted.rules.model_dump(by_alias=True, exclude_none=True, mode="json")
    header = (
        f"# Calibrated by `leadtherm calibrate` from {source}: {leads} leads, {conversions} conversions, seed {seed}.\n"
        f"# Holdout ROC AUC - these points: {fitted.points_auc:.3f}, the raw model: {fitted.model_auc:.3f}, "
        f"the rules before: {fitted.current_auc:.3f}.\n"
        "# Edit freely: it is an ordinary scoring.yaml. The hot gate (qualification) is kept as it was.\n"
    )
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    validate(ScoringRules, read_yaml(text, "calibrated scoring.yaml"), "calibrated scoring.yaml")
    return text


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
