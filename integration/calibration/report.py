"""What calibration found: AUCs, conversion per band, lift, the points, and the warnings."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from integration.calibration.learn import Fitted
from integration.model import Lead, Temperature
from integration.scoring import assess, rule_matches
from mappings.schema import CrmMapping, Rule

LEAK_MIN_ROWS = 50


@dataclass(frozen=True)
class Band:
    temperature: Temperature
    leads: int
    conversions: int

    @property
    def rate(self) -> float:
        return self.conversions / self.leads if self.leads else 0.0


def bands(fitted: Fitted, leads: Sequence[Lead], outcomes: Sequence[int], as_of: datetime) -> list[Band]:
    counts: Counter[Temperature] = Counter()
    wins: Counter[Temperature] = Counter()
    for i in fitted.test:
        temperature = assess(leads[i], fitted.rules, as_of).temperature
        counts[temperature] += 1
        wins[temperature] += outcomes[i]
    return [Band(t, counts[t], wins[t]) for t in Temperature]


def warnings(
    leads: Sequence[Lead], outcomes: Sequence[int], candidates: Sequence[Rule], mapping: CrmMapping
) -> list[str]:
    found = []
    for rule in candidates:
        if rule.is_ is None or isinstance(rule.is_, bool):
            continue
        hits = [o for lead, o in zip(leads, outcomes, strict=True) if rule_matches(rule, getattr(lead, rule.attribute))]
        if len(hits) >= LEAK_MIN_ROWS:
            rate = sum(hits) / len(hits)
            if rate > 0.95 or rate < 0.02:
                column = (
                    ", ".join(mapping.attributes[rule.attribute].sources)
                    if rule.attribute in mapping.attributes
                    else rule.attribute
                )
                found.append(
                    f"possible leakage: column {column} = {rule.is_!r} converts at {rate:.0%} over {len(hits)} leads "
                    "(a status set after the fact?) - check before trusting its points"
                )
    conversions = sum(outcomes)
    if conversions < 100:
        found.append(f"too little data: {conversions} conversions; points from fewer than about 100 are noisy")
    return found


def _chart(fitted: Fitted, leads: Sequence[Lead], outcomes: Sequence[int], as_of: datetime) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = sorted(((assess(leads[i], fitted.rules, as_of).score, outcomes[i]) for i in fitted.test), reverse=True)
    total = sum(o for _, o in scored) or 1
    xs, ys, found = [0.0], [0.0], 0
    for n, (_, outcome) in enumerate(scored, start=1):
        found += outcome
        xs.append(n / len(scored))
        ys.append(found / total)
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot(xs, ys, label="calibrated points")
    axis.plot([0, 1], [0, 1], linestyle="--", label="random")
    axis.set_xlabel("share of leads, highest score first")
    axis.set_ylabel("share of conversions found")
    axis.set_title("Cumulative gains (holdout)")
    axis.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def html_report(
    fitted: Fitted, leads: Sequence[Lead], outcomes: Sequence[int], found: list[str], as_of: datetime
) -> str:
    band_rows = "".join(
        f"<tr><td>{b.temperature.value}</td><td>{b.leads}</td><td>{b.conversions}</td><td>{b.rate:.1%}</td></tr>"
        for b in bands(fitted, leads, outcomes, as_of)
    )
    rules = [*fitted.rules.fit, *fitted.rules.engagement, *fitted.rules.penalties]
    point_rows = "".join(f"<tr><td>{html.escape(r.label)}</td><td>{r.points:+.0f}</td></tr>" for r in rules)
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in found) or "<li>none</li>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>leadtherm calibration</title></head><body>
<h1>leadtherm calibration</h1>
<h2>Holdout ROC AUC</h2><ul><li>integer points: {fitted.points_auc:.3f}</li><li>raw model: {fitted.model_auc:.3f}</li>
<li>current rules: {fitted.current_auc:.3f}</li></ul>
<h2>Conversion per temperature (holdout)</h2>
<table border="1"><tr><th>band</th><th>leads</th><th>conversions</th><th>rate</th></tr>{band_rows}</table>
<h2>Gains</h2><img alt="cumulative gains" src="data:image/png;base64,{_chart(fitted, leads, outcomes, as_of)}">
<h2>Points</h2><table border="1"><tr><th>rule</th><th>points</th></tr>{point_rows}</table>
<h2>Warnings</h2><ul>{warn}</ul></body></html>"""
