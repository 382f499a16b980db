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


def gains_chart(outcomes: Sequence[int], curves: Sequence[Curve]) -> str:
    """Cumulative gains of each scoring on the holdout, with the random diagonal."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4))
    for name, scores in curves:
        axis.plot(*gains(outcomes, scores), label=name)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    axis.set_xlabel("share of leads, highest score first")
    axis.set_ylabel("share of conversions found")
    axis.set_title("Cumulative gains (holdout)")
    axis.legend(loc="lower right")
    return _png(figure)


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


def bands_chart(bands: Sequence[Band]) -> str:
    """Conversion rate per temperature band on the holdout, with the lead count on each bar."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 4))
    bars = axis.bar([b.temperature.value for b in bands], [100 * b.rate for b in bands])
    for bar, band in zip(bars, bands, strict=True):
        axis.annotate(
            f"n={band.leads}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom"
        )
    axis.set_ylabel("conversion rate (%)")
    axis.set_title("Conversion by temperature (holdout)")
    return _png(figure)
