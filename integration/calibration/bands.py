"""Band thresholds chosen on the training scores so that conversion rises from cold to hot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

from integration.domain.model import Temperature
from integration.domain.scoring import temperature_of

GRID = 40  # candidate edges at every 2.5th percentile of the training scores
MIN_SHARE = 0.02  # a band must hold at least this share of the training leads...
MIN_LEADS = 20  # ...and at least this many, or its conversion rate is noise
FALLBACK_QUANTILES = (0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Band:
    """How many leads of one temperature there were and how many converted."""

    temperature: Temperature
    leads: int
    conversions: int

    @property
    def rate(self) -> float:
        return self.conversions / self.leads if self.leads else 0.0


def temperature(score: int, qualified: bool, thresholds: tuple[int, int, int]) -> Temperature:
    """The band `assess` gives a score (the scorer's own function)."""
    return temperature_of(score, qualified, *thresholds)


Cells = dict[tuple[int, bool], tuple[int, int]]  # (score, qualified) -> (leads, conversions)


def cells(scores: Sequence[int], qualified: Sequence[bool], outcomes: Sequence[int]) -> Cells:
    """Leads and conversions per distinct (score, qualified): at most 202 cells, however many leads."""
    found: dict[tuple[int, bool], list[int]] = {}
    for score, ok, outcome in zip(scores, qualified, outcomes, strict=True):
        cell = found.setdefault((score, ok), [0, 0])
        cell[0] += 1
        cell[1] += outcome
    return {key: (n, k) for key, (n, k) in sorted(found.items())}


def tally(counted: Cells, thresholds: tuple[int, int, int]) -> list[Band]:
    """Leads and conversions per band, coldest first."""
    leads = dict.fromkeys(Temperature, 0)
    wins = dict.fromkeys(Temperature, 0)
    for (score, ok), (n, k) in counted.items():
        band = temperature(score, ok, thresholds)
        leads[band] += n
        wins[band] += k
    return [Band(t, leads[t], wins[t]) for t in Temperature]


def _log_likelihood(bands: Sequence[Band]) -> float:
    total = 0.0
    for band in bands:
        for count, rate in ((band.conversions, band.rate), (band.leads - band.conversions, 1 - band.rate)):
            if count:
                total += count * math.log(rate)
    return total


def _acceptable(bands: Sequence[Band], least: int) -> bool:
    filled = [b for b in bands if b.leads]
    return all(b.leads >= least for b in filled) and all(a.rate < b.rate for a, b in pairwise(filled))


def _candidates(scores: Sequence[int]) -> list[int]:
    ordered = sorted(scores)
    picks = {ordered[min(len(ordered) - 1, len(ordered) * q // GRID)] for q in range(1, GRID)}
    return sorted(p for p in picks if 0 < p <= 100)


def _fallback(scores: Sequence[int]) -> tuple[int, int, int]:
    ordered = sorted(scores)
    cool, warm, hot = (ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in FALLBACK_QUANTILES)
    cool = max(1, min(cool, 98))
    warm = max(cool + 1, min(warm, 99))
    return cool, warm, max(warm + 1, min(hot, 100))


def choose(scores: Sequence[int], qualified: Sequence[bool], outcomes: Sequence[int]) -> tuple[int, int, int]:
    """The cool/warm/hot edges whose bands explain conversion best (log-likelihood), rates rising band by band.

    More filled bands beat fewer; among equals the higher hot edge wins, so hot stays for the top scores.
    """
    least = max(MIN_LEADS, math.ceil(MIN_SHARE * len(scores)))
    counted = cells(scores, qualified, outcomes)
    best: tuple[int, float, int] | None = None
    chosen: tuple[int, int, int] | None = None
    for thresholds in combinations(_candidates(scores), 3):
        bands = tally(counted, thresholds)
        if not _acceptable(bands, least):
            continue
        key = (sum(1 for b in bands if b.leads), _log_likelihood(bands), thresholds[2])
        if best is None or key > best:
            best, chosen = key, thresholds
    return chosen if chosen is not None else _fallback(scores)
