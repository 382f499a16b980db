"""Finer cuts of a number kept only where they pay: judged on the inner validation split, never by a rule of thumb."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from integration.calibration.binning import Bin, Term, coarsen, merged_bins
from integration.calibration.shapes import Shapes, Spec, loss

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

LEVELS = (2, 4, 8)  # coarser cuts tried before the finest
# Each range a cut adds must lower the held-out log loss by this much in all (nats): a finer cut of pure noise
# fitted on the same leads can look a little better on the held-out ones by chance, never by this much.
NATS_PER_RANGE = 0.5
TOLERANCE = 0.0002  # per lead: a pair must lower the held-out log loss by more than this to be kept


def _keep(cuts: Sequence[float], level: int) -> list[float]:
    """About `level` ranges' worth of the cut points, evenly spread through them."""
    if level - 1 >= len(cuts):
        return list(cuts)
    return [cuts[math.ceil((i + 1) * (len(cuts) + 1) / level) - 1] for i in range(level - 1)]


def choose_cuts(
    terms: Sequence[Term],
    specs: Sequence[Spec],
    shapes: Shapes,
    truth: Vector,
    weights: Vector,
    factors: Vector,
    rows: Sequence[int],
    check: Sequence[int],
    needed: Collection[int] = (),
) -> list[Term]:
    """Each number at the cut that predicts the held-out leads best, each range it adds costing `NATS_PER_RANGE`.

    An attribute whose values, all of them together, do not pay that way is silenced: one bin, no points.
    `needed` are the terms a pair uses, kept whatever.
    """
    import numpy as np

    held = np.asarray(check, dtype=np.int64)
    fitted = np.asarray(rows, dtype=np.int64)
    base = shapes.log_odds(specs, check, factors)
    y, w = truth[held], weights[held]
    chosen = []
    for t, (term, spec, score) in enumerate(zip(terms, specs, shapes.scores, strict=True)):
        scale = factors[held] if spec.decays else 1.0
        own = score[spec.codes[held]] * scale
        counts = np.bincount(spec.codes[fitted], weights=weights[fitted], minlength=spec.size) + 1e-9
        flat = 0.0 if spec.decays or spec.sign else float(score @ counts / counts.sum())
        per_range = NATS_PER_RANGE / float(np.sum(w))
        silent = loss(base - own + flat * scale, y, w)
        if term.kind not in ("number", "age") or len(term.cuts) < 2:
            # One comparison, not a search among cuts: the values are kept if they predict at all.
            chosen.append(term if loss(base, y, w) < silent or t in needed else silence(term))
            continue
        options: list[tuple[float, float, list[float]]] = []
        for level in sorted({*LEVELS, len(term.cuts) + 1}):
            keep = _keep(term.cuts, level)
            table = np.asarray(merged_bins(term, keep), dtype=np.int64)
            merged = np.bincount(table, weights=score * counts) / np.bincount(table, weights=counts)
            value = loss(base - own + merged[table][spec.codes[held]] * scale, y, w)
            options.append((value + per_range * int(table.max()), value, keep))
        if silent <= min(value for _, value, _ in options) and t not in needed:
            chosen.append(silence(term))  # no cut predicts the held-out leads at all
            continue
        best = min(options, key=lambda option: option[0])[2]
        chosen.append(coarsen(term, best) if len(best) < len(term.cuts) else term)
    return chosen


def silence(term: Term) -> Term:
    """The attribute as one bin: learned from, worth no points."""
    import numpy as np

    return replace(
        term,
        bins=[Bin("any value", None, "other")],
        codes=np.zeros_like(term.codes),
        reference=0,
        cuts=[],
    )
