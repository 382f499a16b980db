"""Finer cuts of a number kept only where they pay: judged on the inner validation split, never by a rule of thumb."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from integration.calibration.binning import Term, coarsen, merged_bins
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
) -> list[Term]:
    """Each number at the coarsest cut whose held-out loss is within `TOLERANCE` of its best cut."""
    import numpy as np

    held = np.asarray(check, dtype=np.int64)
    fitted = np.asarray(rows, dtype=np.int64)
    base = shapes.log_odds(specs, check, factors)
    y, w = truth[held], weights[held]
    chosen = []
    for term, spec, score in zip(terms, specs, shapes.scores, strict=True):
        if term.kind not in ("number", "age") or len(term.cuts) < 2:
            chosen.append(term)
            continue
        scale = factors[held] if spec.decays else 1.0
        own = score[spec.codes[held]] * scale
        counts = np.bincount(spec.codes[fitted], weights=weights[fitted], minlength=spec.size) + 1e-9
        options: list[tuple[float, list[float]]] = []
        for level in sorted({*LEVELS, len(term.cuts) + 1}):
            keep = _keep(term.cuts, level)
            table = np.asarray(merged_bins(term, keep), dtype=np.int64)
            merged = np.bincount(table, weights=score * counts) / np.bincount(table, weights=counts)
            coarse = merged[table][spec.codes[held]] * scale
            cost = NATS_PER_RANGE * len(keep) / float(np.sum(w))
            options.append((loss(base - own + coarse, y, w) + cost, keep))
        keep = min(options, key=lambda option: option[0])[1]
        chosen.append(coarsen(term, keep) if len(keep) < len(term.cuts) else term)
    return chosen
