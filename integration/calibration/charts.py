"""The report's charts as PNG bytes in base64 (matplotlib, headless Agg backend)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from integration.calibration.bands import Band

Curve = tuple[str, Sequence[float]]


def gains(outcomes: Sequence[int], scores: Sequence[float]) -> tuple[list[float], list[float]]:
    """Cumulative gains: share of leads taken (highest score first) against share of conversions found."""
    # Ties broken by position so the curve is the same on every run.
    ordered = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    total = sum(outcomes) or 1
    xs, ys, found = [0.0], [0.0], 0
    for n, i in enumerate(ordered, start=1):
        found += outcomes[i]
        xs.append(n / len(ordered))
        ys.append(found / total)
    return xs, ys


def lift(outcomes: Sequence[int], scores: Sequence[float], parts: int = 10) -> list[float]:
    """Conversion rate of each tenth of the leads (highest scores first) over the overall rate."""
    ordered = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    overall = (sum(outcomes) / len(outcomes)) if outcomes else 0.0
    lifts = []
    for part in range(parts):
        chunk = ordered[len(ordered) * part // parts : len(ordered) * (part + 1) // parts]
        rate = sum(outcomes[i] for i in chunk) / len(chunk) if chunk else 0.0
        lifts.append(rate / overall if overall else 0.0)
    return lifts


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    # No timestamp in the PNG metadata: the same history gives the same report.
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# Each curve its own colour, line style and markers, so a curve that lies on another still shows:
# the first (calibrated points) is drawn on top, dashed, over a wide pale solid line and a dotted one.
STYLES = (
    {"color": "#d62728", "linestyle": "--", "marker": "o", "linewidth": 2.0},
    {"color": "#1f77b4", "linestyle": "-", "marker": "s", "linewidth": 3.5, "alpha": 0.6},
    {"color": "#2ca02c", "linestyle": ":", "marker": "^", "linewidth": 2.0},
)
COINCIDE = 0.01  # gains curves closer than this everywhere look like one line
MARKERS = 10  # markers per curve, at shifted positions so coinciding curves' markers do not overlap


def coinciding(outcomes: Sequence[int], curves: Sequence[Curve]) -> list[tuple[str, str]]:
    """Pairs of curves whose cumulative gains never differ by more than `COINCIDE`: drawn as one line."""
    gained = [(name, gains(outcomes, scores)[1]) for name, scores in curves]
    return [
        (a, b)
        for n, (a, ya) in enumerate(gained)
        for b, yb in gained[n + 1 :]
        if max((abs(p - q) for p, q in zip(ya, yb, strict=True)), default=0.0) <= COINCIDE
    ]


def gains_figure(outcomes: Sequence[int], curves: Sequence[Curve]) -> Any:
    """The gains chart as a matplotlib figure (see `gains_chart`)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4))
    for n, (name, scores) in enumerate(curves):
        xs, ys = gains(outcomes, scores)
        step = max(1, len(xs) // MARKERS)
        every = (min(len(xs) - 1, n * step // len(STYLES)), step)
        style = STYLES[n % len(STYLES)]
        # zorder, not plotting order, puts the first curve on top; the legend keeps the given order.
        axis.plot(xs, ys, label=name, markevery=every, markersize=5, zorder=3 + len(curves) - n, **style)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random", zorder=1)
    axis.set_xlabel("share of leads, highest score first")
    axis.set_ylabel("share of conversions found")
    axis.set_title("Cumulative gains (holdout)")
    axis.legend(loc="lower right")
    same = coinciding(outcomes, curves)
    if same:
        note = "; ".join(f"{a} and {b} coincide" for a, b in same)
        axis.annotate(note, (0.02, 0.97), xycoords="axes fraction", va="top", fontsize=8, color="#444")
    return figure


def gains_chart(outcomes: Sequence[int], curves: Sequence[Curve]) -> str:
    """Cumulative gains of each scoring on the holdout, with the random diagonal."""
    return _png(gains_figure(outcomes, curves))


def lift_chart(outcomes: Sequence[int], scores: Sequence[float]) -> str:
    """Lift per decile of the calibrated score on the holdout."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4))
    values = lift(outcomes, scores)
    axis.bar([str(n) for n in range(1, len(values) + 1)], values)
    axis.axhline(1.0, linestyle="--", color="grey")
    axis.set_xlabel("decile of the calibrated score (1 = highest)")
    axis.set_ylabel("conversion rate / overall rate")
    axis.set_title("Lift by decile (holdout)")
    return _png(figure)


EMPTY_BAND = "no leads"


def bands_figure(bands: Sequence[Band]) -> Any:
    """The bands chart as a matplotlib figure (see `bands_chart`)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4))
    names = [b.temperature.value for b in bands]
    # An empty band gets no bar at all: a 0% bar would read as "never converts".
    bars = axis.bar(names, [100 * b.rate if b.leads else 0.0 for b in bands])
    top = max((100 * b.rate for b in bands if b.leads), default=0.0)
    for bar, band in zip(bars, bands, strict=True):
        middle = bar.get_x() + bar.get_width() / 2
        if band.leads:
            axis.annotate(f"n={band.leads}", (middle, bar.get_height()), ha="center", va="bottom")
        else:
            bar.set_visible(False)
            axis.annotate(
                EMPTY_BAND, (middle, max(top, 1.0) * 0.05), ha="center", va="bottom", style="italic", color="grey"
            )
    axis.set_ylim(0, max(top, 1.0) * 1.15)
    axis.set_ylabel("conversion rate (%)")
    axis.set_title("Conversion by temperature (holdout)")
    return figure


def bands_chart(bands: Sequence[Band]) -> str:
    """Conversion rate per temperature band on the holdout, with the lead count on each bar."""
    return _png(bands_figure(bands))
