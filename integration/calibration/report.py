"""The calibration report: an HTML page with embedded charts, and the same figures as terminal tables."""

from __future__ import annotations

import html
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from integration.calibration.bands import Band
from integration.calibration.calibrate import Calibration
from integration.calibration.charts import EMPTY_BAND, bands_chart, coinciding, gains_chart, lift_chart
from integration.calibration.session import Outcome
from mappings.grammar import ENGAGEMENT, SECTION_KEYS, SECTIONS

_AXIS_NAMES = {s.key: f"{s.label} (decays)" if s is ENGAGEMENT else s.label for s in SECTIONS}


def auc_rows(result: Calibration, interval: tuple[float, float] | None = None) -> list[tuple[str, str]]:
    """The three holdout ROC AUCs, as (what, value) rows; the points' with its 95% interval when given."""
    within = f" (95% interval {interval[0]:.3f} to {interval[1]:.3f})" if interval else ""
    return [
        ("integer points (calibrated scoring.yaml)", f"{result.points_auc:.3f}{within}"),
        ("learned shapes (before rounding to points)", f"{result.model_auc:.3f}"),
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
    for axis in SECTION_KEYS:
        for rule in sorted((p for p in result.placed if p.axis == axis), key=lambda p: -abs(p.points)):
            seen = result.support[rule.feature.rule.label]
            rows.append((
                _AXIS_NAMES[axis], rule.feature.rule.label, f"{rule.points:+d}", f"{rule.coefficient:+.2f}",
                f"{seen.share:.1%}", f"{seen.rate:.1%}",
            ))  # fmt: skip
    return rows


LEFT_OUT_HEADERS = ("column", "attribute", "why", "AUC alone", "AUC of the others", "AUC with it", "values")


def left_out_rows(outcome: Outcome) -> list[tuple[str, str, str, str, str, str, str]]:
    """Every column left out of the learning, why, and its evidence (holdout AUCs, values and their rates)."""
    rows = []
    for gone in outcome.left_out:
        s = gone.suspect
        if s is None:
            rows.append((gone.column, gone.attribute, gone.why, "", "", "", ""))
        else:
            values = "; ".join(str(v) for v in s.values)
            rows.append((
                s.column, s.attribute, s.reason, f"{s.alone_auc:.3f}", f"{s.without_auc:.3f}", f"{s.with_auc:.3f}",
                values,
            ))  # fmt: skip
    return rows


def print_summary(console: Console, outcome: Outcome) -> None:
    """The plain-text summary: the split, AUCs with the interval, columns left out, bands, points, notes."""
    result = outcome.calibration
    history = result.history
    console.print(
        f"{history.source}: {len(history.leads)} leads, {sum(history.outcomes)} conversions; "
        f"holdout {outcome.split.description}",
        markup=False,
    )
    aucs = Table("holdout ROC AUC", "value", header_style="bold")
    for what, value in auc_rows(result, outcome.interval):
        aucs.add_row(what, value)
    console.print(aucs)
    console.print(outcome.verdict, markup=False)
    if outcome.left_out:
        console.print("columns left out:")
        for gone in outcome.left_out:
            # Lines, not a table: the evidence is long, and a terminal is narrow.
            console.print(f"  {gone}", markup=False)
            if gone.suspect is not None:
                console.print(f"    {gone.suspect.evidence_aucs}", markup=False)
                for rate in gone.suspect.values:
                    console.print(f"    {rate}", markup=False)
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
    for note in outcome.notes:
        console.print(f"note: {note}", markup=False)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(alt: str, png: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def html_report(outcome: Outcome, seed: int) -> str:
    """A self-contained HTML page: the split, figures, columns left out, charts, points, warnings and notes."""
    result, warnings = outcome.calibration, outcome.warnings
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
    noted = "".join(f"<li>{html.escape(n)}</li>" for n in outcome.notes) or "<li>none</li>"
    gone = (
        _table(LEFT_OUT_HEADERS, left_out_rows(outcome))
        if outcome.left_out
        else "<p>none: every column was learned from.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadtherm calibration: {html.escape(history.source)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}.warn li{{color:#a35200}}</style></head><body>
<h1>leadtherm calibration</h1>
<p>{html.escape(history.source)}: {len(history.leads)} leads, {sum(history.outcomes)} conversions (seed {seed}).
Holdout: <span id="split">{html.escape(outcome.split.description)}</span>; every figure below is measured on
the {len(result.test)} leads held out.</p>
<p id="verdict"><strong>{html.escape(outcome.verdict[:1].upper() + outcome.verdict[1:])}.</strong></p>
<h2>Warnings</h2><ul class="warn">{warned}</ul>
<h2>Columns left out</h2>{gone}
<h2>Holdout ROC AUC</h2>{_table(("scoring", "ROC AUC"), auc_rows(result, outcome.interval))}
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
<h2>Notes</h2><ul>{noted}</ul>
</body></html>
"""
