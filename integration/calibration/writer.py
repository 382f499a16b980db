"""Write calibrated rules as a readable, commented scoring.yaml in the default file's style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from integration.calibration.calibrate import Calibration
from integration.calibration.scale import ANCHOR_AGAINST, ANCHOR_SCORE, POINTS_TO_DOUBLE
from mappings.grammar import CONDITIONS, MAX_POINTS, SECTION_KEYS
from mappings.loader import read_yaml, validate
from mappings.schema import Rule, ScoringRules

_CONDITIONS = (*CONDITIONS, MAX_POINTS)


def _scalar(value: Any) -> str:
    """One YAML value on one line, quoted only where YAML needs it (labels with ': ', '123', regexes)."""
    value = _whole(value)  # days_ago: {at_least: 7, below: 30}
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1_000_000).strip()
    return text.removesuffix("...").strip()


def _whole(value: Any) -> Any:
    """Whole-number floats as integers (7, not 7.0), inside a `days_ago` range too."""
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _flow(condition: dict[str, Any]) -> str:
    """One condition of a compound rule on one line, attribute first: `{attribute: seniority, is: director}`."""
    data = {k: _whole(v) for k, v in condition.items()}
    return yaml.safe_dump(data, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1_000_000).strip()


def _rule(rule: Rule, note: str) -> list[str]:
    data = rule.model_dump(by_alias=True, exclude_none=True)
    lines = [f"  - label: {_scalar(data['label'])}" + (f"    # {note}" if note else "")]
    if "all" in data:  # a compound rule: its points once when every condition holds
        lines += ["    all:", *[f"      - {_flow(c)}" for c in data["all"]]]
    else:
        lines.append(f"    attribute: {data['attribute']}")
    lines += [f"    {key}: {_scalar(data[key])}" for key in _CONDITIONS if key in data]
    lines.append(f"    points: {_scalar(data['points'])}")
    return lines


def _note(result: Calibration, rule: Rule) -> str:
    placed = next((p for p in result.placed if p.feature.rule.label == rule.label), None)
    seen = result.support.get(rule.label)
    if placed is None or seen is None:
        return ""
    return f"log-odds {placed.coefficient:+.2f}; fires for {seen.share:.0%} of leads, {seen.rate:.0%} of them converted"


def scoring_yaml(result: Calibration, seed: int, holdout: float) -> str:
    """The calibrated rules as YAML text, validated against the schema before anyone writes it."""
    rules, history = result.rules, result.history
    low, high = result.auc_interval
    t, d = rules.temperature, rules.decay
    lines = [
        f"# leadtherm scoring rules, calibrated by `leadtherm calibrate` from {history.source}",
        f"# ({len(history.leads)} leads, {sum(history.outcomes)} conversions; seed {seed}, {holdout:.0%} held out).",
        "# `leadtherm check` validates this file. It is an ordinary scoring.yaml: edit it freely.",
        "#",
        f"# Holdout ROC AUC: these points {result.points_auc:.3f} (95% interval {low:.3f}-{high:.3f}), "
        f"the learned shapes {result.model_auc:.3f}, the rules before {result.current_auc:.3f}.",
        "# Each attribute's points per value or range were learned jointly (one shape per attribute, boosted),",
        f"# on a fixed scale: {POINTS_TO_DOUBLE} points double the odds of converting, a score of {ANCHOR_SCORE} "
        f"is odds of 1:{ANCHOR_AGAINST}.",
        "# Ranges: `at_least` includes its edge, `below` does not; a value with no rule gets 0 points.",
        "# `days_ago` is a date's age in days at the moment the lead is assessed.",
        "#",
        "# score = weights.fit * fit + weights.engagement * engagement (decayed) + penalties, 0-100.",
        "version: 1",
        "",
        "weights:",
        "  fit: 1.0          # the learned points are already on the score's scale",
        "  engagement: 1.0",
        "",
        "decay:                # kept from the current rules; engagement was decayed this way when learning",
        f"  half_life_days: {_scalar(d.half_life_days)}",
        f"  grace_days: {_scalar(d.grace_days)}",
        "",
        "temperature:          # chosen on the training split so that conversion rises band by band",
        f"  cool: {t.cool}",
        f"  warm: {t.warm}",
        f"  hot: {t.hot}",
        "",
        "qualification:        # the current rules' criteria the mapping fills: all confirmed for `hot` and `sql`",
        f"  required: {_scalar(list(rules.qualification.required))}",
        "",
        "stage:",
        f"  mql_score: {rules.stage.mql_score}       # marketing-qualified from the warm band on",
        "",
        "grid:                 # the fit x engagement grid's cut points, kept from the current rules",
        f"  fit: {_scalar(list(rules.grid.fit))}",
        f"  engagement: {_scalar(list(rules.grid.engagement))}",
        "",
        f"starting_points: {rules.starting_points}     # from the base rate on the same scale; never a reason",
    ]
    for axis in SECTION_KEYS:
        group: list[Rule] = getattr(rules, axis)
        lines += ["", f"{axis}:" if group else f"{axis}: []"]
        for rule in group:
            lines += _rule(rule, _note(result, rule))
    lines += ["", "next_actions:          # kept from the current rules"]
    lines += [f"  {band}: {_scalar(text)}" for band, text in rules.next_actions.model_dump().items()]
    text = "\n".join(lines) + "\n"
    written = validate(ScoringRules, read_yaml(text, "calibrated scoring.yaml"), "calibrated scoring.yaml")
    if written != rules:
        # The text must say exactly what was learned; a formatting slip is a bug, not the admin's problem.
        raise AssertionError("calibrated scoring.yaml does not read back as the learned rules")
    return text


def write(path: Path, text: str) -> None:
    """Write the rules file (UTF-8, as `leadtherm check` reads it)."""
    path.write_text(text, encoding="utf-8")
