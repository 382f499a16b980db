"""The calibration report: an HTML page with embedded charts, and the same figures as terminal tables."""

from __future__ import annotations

import html
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from integration.calibration.bands import Band
from integration.calibration.calibrate import Calibration
from integration.calibration.charts import EMPTY_BAND, bands_chart, coinciding, gains_chart, lift_chart

_AXIS_NAMES = {"fit": "fit", "engagement": "engagement (decays)", "penalties": "penalty"}


def auc_rows(result: Calibration) -> list[tuple[str, str]]:
    """The three holdout ROC AUCs, as (what, value) rows."""
    return [
        ("integer points (calibrated scoring.yaml)", f"{result.points_auc:.3f}"),
        ("raw model (logistic regression)", f"{result.model_auc:.3f}"),
        ("current rules", f"{result.current_auc:.3f}"),
    ]


def rate_text(band: Band) -> str:
    """A band's conversion rate, or that it holds no leads (an empty band is not a 0% band)."""
    return f"{band.rate:.1%}" if band.leads else EMPTY_BAND


def point_rows(result: Calibration) -> list[tuple[str, str, str, str, str, str]]:
    """(axis, rule, points, coefficient, share of leads, their conversion), strongest first within each axis."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    if result.baseline:
        rows.append(("fit", "Starting points (every lead)", f"{result.baseline:+d}", "", "100%", ""))
    for axis in ("fit", "engagement", "penalties"):
        for rule in sorted((p for p in result.placed if p.axis == axis), key=lambda p: -abs(p.points)):
            seen = result.support[rule.feature.rule.label]
            rows.append((
                _AXIS_NAMES[axis], rule.feature.rule.label, f"{rule.points:+d}", f"{rule.coefficient:+.2f}",
                f"{seen.share:.1%}", f"{seen.rate:.1%}",
            ))  # fmt: skip
    return rows


def print_summary(console: Console, result: Calibration) -> None:
    """The plain-text summary: AUCs, bands, points."""
    history = result.history
    console.print(
        f"{history.source}: {len(history.leads)} leads, {sum(history.outcomes)} conversions; "
        f"trained on {len(result.train)}, measured on {len(result.test)} held out"
    )
    aucs = Table("holdout ROC AUC", "value", header_style="bold")
    for what, value in auc_rows(result):
        aucs.add_row(what, value)
    console.print(aucs)
    t = result.rules.temperature
    bands = Table("band (holdout)", "from score", "leads", "conversions", "rate", header_style="bold")
    edges = {"cold": "0", "cool": str(t.cool), "warm": str(t.warm), "hot": f"{t.hot} + qualified"}
    for band in result.bands:
        bands.add_row(
            band.temperature.value,
            edges[band.temperature.value],
            str(band.leads),
            str(band.conversions),
            rate_text(band),
        )
    console.print(bands)
    points = Table("axis", "rule", "points", "coef", "fires", "converts", header_style="bold", title="learned points")
    for cells in point_rows(result):
        points.add_row(*cells)
    console.print(points)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(alt: str, png: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def html_report(result: Calibration, warnings: Sequence[str], seed: int) -> str:
    """A self-contained HTML page: figures, embedded PNG charts, the points table and the warnings."""
    history, truth = result.history, result.holdout_outcomes
    t = result.rules.temperature
    curves = [
        ("calibrated points", [float(s) for s in result.holdout_points]),
        ("raw model", result.holdout_model),
        ("current rules", [float(s) for s in result.holdout_current]),
    ]
    band_rows = [(b.temperature.value, str(b.leads), str(b.conversions), rate_text(b)) for b in result.bands]
    same = coinciding(truth, curves)
    overlap = "".join(
        f"<p>The {html.escape(a)} and {html.escape(b)} curves coincide: they rank the held-out leads alike, "
        "so one lies on the other (told apart by line style and markers).</p>"
        for a, b in same
    )
    warned = "".join(f"<li>{html.escape(w)}</li>" for w in warnings) or "<li>none</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadtherm calibration: {html.escape(history.source)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}.warn li{{color:#a35200}}</style></head><body>
<h1>leadtherm calibration</h1>
<p>{html.escape(history.source)}: {len(history.leads)} leads, {sum(history.outcomes)} conversions.
Learned on a stratified {len(result.train)}-lead training split (seed {seed}); every figure below is
measured on the {len(result.test)} leads held out.</p>
<h2>Warnings</h2><ul class="warn">{warned}</ul>
<h2>Holdout ROC AUC</h2>{_table(("scoring", "ROC AUC"), auc_rows(result))}
<h2>Conversion per temperature (holdout)</h2>
<p>Bands from score: cool {t.cool}, warm {t.warm}, hot {t.hot} (hot also needs
{html.escape(", ".join(result.rules.qualification.required))} confirmed).</p>
{_table(("band", "leads", "conversions", "rate"), band_rows)}
{_image("conversion by temperature", bands_chart(result.bands))}
<h2>Gains and lift (holdout)</h2>
{_image("cumulative gains", gains_chart(truth, curves))}
{overlap}
{_image("lift by decile", lift_chart(truth, [float(s) for s in result.holdout_points]))}
<h2>Points</h2>
<p>Coefficients are the model's log-odds; "fires" and "converts" are measured on the training split.</p>
{_table(("axis", "rule", "points", "coefficient", "fires", "converts"), point_rows(result))}
</body></html>
"""
