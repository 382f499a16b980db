"""The calibration report stays readable: coinciding curves stay visible, empty bands read as empty."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from integration.calibration.bands import Band
from integration.calibration.charts import bands_chart, bands_figure, coinciding, gains_chart, gains_figure
from integration.calibration.history import read_history
from integration.calibration.report import html_report, rate_text
from integration.calibration.session import run
from integration.domain.model import Temperature
from mappings.loader import PACKAGED, load_file, load_rules
from mappings.schema import CrmMapping

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OUTCOMES = [int(n % 4 == 0 or n % 7 == 0) for n in range(400)]
SCORES = [float((n * 37) % 101) + 30 * o for n, o in enumerate(OUTCOMES)]


def _curves(first: list[float], second: list[float]) -> list[tuple[str, list[float]]]:
    return [("calibrated points", first), ("raw model", second), ("current rules", [float(n % 13) for n in range(400)])]


def test_identical_rankings_are_named_as_coinciding_curves_and_different_ones_are_not() -> None:
    assert coinciding(OUTCOMES, _curves(SCORES, [2 * s + 1 for s in SCORES])) == [("calibrated points", "raw model")]
    assert coinciding(OUTCOMES, _curves(SCORES, [-s for s in SCORES])) == []


def test_coinciding_curves_are_drawn_in_distinct_styles_with_the_calibrated_points_on_top() -> None:
    figure = gains_figure(OUTCOMES, _curves(SCORES, list(SCORES)))
    axis = figure.axes[0]
    lines = {line.get_label(): line for line in axis.lines}
    drawn = [lines[name] for name in ("calibrated points", "raw model", "current rules")]
    assert len({(line.get_linestyle(), line.get_marker(), line.get_color()) for line in drawn}) == 3
    assert max(drawn, key=lambda line: line.get_zorder()) is lines["calibrated points"]
    # The markers of two curves on the same line sit at different points, so both show.
    assert drawn[0].get_markevery() != drawn[1].get_markevery()
    assert [t.get_text() for t in axis.texts] == ["calibrated points and raw model coincide"]
    assert [t.get_text() for t in axis.get_legend().get_texts()][:3] == [
        "calibrated points",
        "raw model",
        "current rules",
    ]


BANDS = [Band(Temperature.COLD, 40, 1), Band(Temperature.COOL, 30, 3), Band(Temperature.WARM, 20, 6),
         Band(Temperature.HOT, 0, 0)]  # fmt: skip


def test_an_empty_band_has_no_bar_and_says_no_leads_rather_than_zero_percent() -> None:
    axis = bands_figure(BANDS).axes[0]
    bars = list(axis.patches)
    assert [bar.get_visible() for bar in bars] == [True, True, True, False]
    texts = [t.get_text() for t in axis.texts]
    assert texts == ["n=40", "n=30", "n=20", "no leads"]
    assert rate_text(BANDS[3]) == "no leads" and rate_text(BANDS[2]) == "30.0%"


def test_the_charts_are_png_images() -> None:
    for chart in (bands_chart(BANDS), gains_chart(OUTCOMES, _curves(SCORES, SCORES))):
        assert base64.b64decode(chart).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.fixture(scope="module")
def example_page() -> str:
    mapping = load_file(CrmMapping, PACKAGED / "salesforce.yaml")
    history = read_history(EXAMPLES / "salesforce_leads.csv", mapping, "IsConverted")
    outcome = run(history, load_rules())
    assert [b.leads for b in outcome.calibration.bands if b.temperature is Temperature.HOT] == [0]
    return html_report(outcome, 7)


def test_the_report_shows_an_empty_band_as_holding_no_leads(example_page: str) -> None:
    assert "<tr><td>hot</td><td>0</td><td>0</td><td>no leads</td></tr>" in example_page
    assert re.search(r"<tr><td>cold</td><td>[1-9]\d*</td><td>\d+</td><td>\d+\.\d%</td></tr>", example_page)  # filled


def test_the_report_names_the_split_the_verdict_and_every_column_left_out_with_its_evidence(example_page: str) -> None:
    assert (
        '<span id="split">stratified random 30% (seed 7): trained on 168 leads, measured on 72</span>' in example_page
    )
    assert re.search(
        r"The learned points separate converters from the rest: holdout AUC [\d.]+ \(95% interval", example_page
    )
    left_out = example_page.split("<h2>Columns left out</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<td>Status</td><td>lead_status</td>" in left_out
    assert "&#x27;Closed - Converted&#x27; (read as &#x27;qualified&#x27;): 10 of 10 converted (100.0%)" in left_out
