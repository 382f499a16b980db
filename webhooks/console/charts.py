"""Charts as inline SVG (no script, no external asset, allowed by the console's CSP)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from integration.domain.whatif import WhatIf

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
