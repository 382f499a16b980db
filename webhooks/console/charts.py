"""Charts as inline SVG (no script, no external asset, allowed by the console's CSP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

from integration.domain.whatif import WhatIf
from mappings.catalogue import TEMPERATURES

WIDTH, HEIGHT, PAD = 520, 240, 36
SERIES = (("current", "bar-current"), ("edited", "bar-edited"))


def bands_chart(result: WhatIf, names: Sequence[str] = ("current rules", "edited rules")) -> Markup:
    """Conversion rate per temperature band (holdout), current and edited side by side, lead counts on top."""
    groups = list(zip(result.current.bands, result.edited.bands, strict=True))
    top = max([b.rate for pair in groups for b in pair] + [0.01])
    slot = (WIDTH - 2 * PAD) / len(groups)
    bar = slot / 3
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 40}" role="img" '
        f'aria-label="conversion rate per temperature band">',
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" class="axis"/>',
    ]
    for g, pair in enumerate(groups):
        x0 = PAD + g * slot + bar / 2
        for s, band in enumerate(pair):
            h = (HEIGHT - PAD) * band.rate / top
            x = x0 + s * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" class="{SERIES[s][1]}">'
                f"<title>{escape(names[s])}: {band.rate:.1%} of {band.leads}</title></rect>"
            )
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - h - 4:.1f}" class="count">{band.rate:.0%}</text>')
        parts.append(
            f'<text x="{x0 + bar:.1f}" y="{HEIGHT + 16}" class="label">{escape(pair[0].temperature.value)}</text>'
        )
    for s, (key, css) in enumerate(SERIES):
        y = HEIGHT + 32
        x = PAD + s * 150
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" class="{css}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" class="legend">{escape(names[s])}</text>')
        del key
    parts.append("</svg>")
    return Markup("".join(parts))


def moves_chart(result: WhatIf) -> Markup:
    """How many leads the edit makes warmer, cooler, or leaves in their band."""
    rows = [("warmer", result.warmer, "bar-warmer"), ("same band", result.unchanged, "bar-same"),
            ("cooler", result.cooler, "bar-cooler")]  # fmt: skip
    most = max([n for _, n, _ in rows] + [1])
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} 110" role="img" aria-label="leads changing temperature">']
    for i, (label, count, css) in enumerate(rows):
        y = 10 + i * 32
        w = (WIDTH - 200) * count / most
        parts.append(f'<text x="0" y="{y + 15}" class="legend">{label}</text>')
        parts.append(f'<rect x="90" y="{y}" width="{w:.1f}" height="22" class="{css}"/>')
        parts.append(f'<text x="{96 + w:.1f}" y="{y + 15}" class="legend">{count}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# The temperatures' colours, coldest first (as console.css colours their names).
TEMPERATURE_FILL = dict(zip(TEMPERATURES, ("#3a6ea5", "#4d8c8c", "#b86e00", "#c0262d"), strict=True))


def score_histogram(counts: Sequence[int], label: str = "records per score band") -> Markup:
    """How many records score 0-9, 10-19, ... 90-100 (the last band takes 100), count on each bar."""
    most = max([*counts, 1])
    slot = (WIDTH - 2 * PAD) / len(counts)
    parts = [
        f'<svg class="chart" id="score-histogram" viewBox="0 0 {WIDTH} {HEIGHT + 24}" role="img" '
        f'aria-label="{escape(label)}">',
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" class="axis"/>',
    ]
    for i, count in enumerate(counts):
        h = (HEIGHT - PAD) * count / most
        x = PAD + i * slot
        low, high = i * 10, 100 if i == len(counts) - 1 else i * 10 + 9
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{HEIGHT - h:.1f}" width="{slot - 4:.1f}" height="{h:.1f}" class="bar-edited" '
            f'data-band="{low}-{high}" data-count="{count}"><title>score {low}-{high}: {count}</title></rect>'
        )
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - h - 4:.1f}" class="count">{count}</text>')
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{HEIGHT + 16}" class="label">{low}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def temperature_bars(counts: Sequence[tuple[str, int]]) -> Markup:
    """How many records are at each temperature, coldest first."""
    most = max([n for _, n in counts] + [1])
    parts = [
        f'<svg class="chart" id="temperature-bars" viewBox="0 0 {WIDTH} {12 + 32 * len(counts)}" role="img" '
        'aria-label="records per temperature">'
    ]
    for i, (temperature, count) in enumerate(counts):
        y = 6 + i * 32
        w = (WIDTH - 200) * count / most
        fill = TEMPERATURE_FILL.get(temperature, "#9aa8bd")
        parts.append(f'<text x="0" y="{y + 15}" class="legend">{escape(temperature)}</text>')
        parts.append(
            f'<rect x="90" y="{y}" width="{w:.1f}" height="22" fill="{fill}" data-temperature="{escape(temperature)}" '
            f'data-count="{count}"/>'
        )
        parts.append(f'<text x="{96 + w:.1f}" y="{y + 15}" class="legend">{count}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def grid_chart(counts: Mapping[str, int], rows: Sequence[str], columns: Sequence[str]) -> Markup:
    """The fit x engagement grid: fit A (best) to D down, engagement 1 (most) to 4 across, a count per cell."""
    cell, left, top = 92, 70, 40
    most = max([*counts.values(), 1])
    width, height = left + cell * len(columns) + 10, top + cell * len(rows) + 10
    parts = [
        f'<svg class="chart grid" id="grid-chart" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="records per fit and engagement cell">',
        f'<text x="{left + cell * len(columns) / 2}" y="14" class="label">engagement (1 most engaged)</text>',
        f'<text x="4" y="{top - 6}" class="legend">fit</text>',
    ]
    for c, column in enumerate(columns):
        parts.append(f'<text x="{left + c * cell + cell / 2}" y="{top - 6}" class="label">{escape(column)}</text>')
    for r, row in enumerate(rows):
        parts.append(f'<text x="{left - 24}" y="{top + r * cell + cell / 2 + 4}" class="label">{escape(row)}</text>')
        for c, column in enumerate(columns):
            name = row + column
            count = counts.get(name, 0)
            shade = 0.08 + 0.72 * count / most
            x, y = left + c * cell, top + r * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 4}" height="{cell - 4}" fill="#1f5fbf" '
                f'fill-opacity="{shade:.2f}" data-cell="{name}" data-count="{count}">'
                f"<title>{name}: {count}</title></rect>"
            )
            ink = "#ffffff" if shade > 0.5 else "#1d2433"
            parts.append(
                f'<text x="{x + (cell - 4) / 2}" y="{y + cell / 2 - 6}" class="label" fill="{ink}">{name}</text>'
                f'<text x="{x + (cell - 4) / 2}" y="{y + cell / 2 + 12}" class="count" fill="{ink}">{count}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def score_line(points: Sequence[tuple[datetime, float]]) -> Markup | None:
    """A record's score over time (one point per change); None with fewer than two points."""
    if len(points) < 2:
        return None
    start, end = points[0][0].timestamp(), points[-1][0].timestamp()
    span = max(end - start, 1.0)
    height = 160

    def xy(moment: datetime, score: float) -> tuple[float, float]:
        return PAD + (WIDTH - 2 * PAD) * (moment.timestamp() - start) / span, height - 20 - (height - 40) * score / 100

    coords = [xy(m, s) for m, s in points]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [
        f'<svg class="chart" id="score-line" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="score over time">',
        f'<line x1="{PAD}" y1="{height - 20}" x2="{WIDTH - PAD}" y2="{height - 20}" class="axis"/>',
        f'<polyline points="{path}" fill="none" stroke="#1f5fbf" stroke-width="2"/>',
    ]
    for (moment, score), (x, y) in zip(points, coords, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f5fbf"><title>{moment:%Y-%m-%d %H:%M}: '
            f"{score:g}</title></circle>"
        )
    parts.append(f'<text x="{PAD}" y="{height - 4}" class="legend">{points[0][0]:%Y-%m-%d}</text>')
    parts.append(f'<text x="{WIDTH - PAD - 70}" y="{height - 4}" class="legend">{points[-1][0]:%Y-%m-%d}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
