"""Pairwise terms: the strongest interactions of two attributes, each one cut on either side (as EBM's FAST does).

A pair is "attribute A in this part and attribute B in that part", so it reads as one compound rule; what the
pair says about A or B alone goes back into their own shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integration.calibration.binning import Term, least
from integration.calibration.shapes import SMOOTHING, Shapes, Spec

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

MAX_PAIRS = 10
MIN_GAIN = 8.0  # Newton gain (about twice the log-likelihood it adds) below which a pair is noise


@dataclass(frozen=True)
class Pair:
    """Two terms and the part of each whose meeting carries the interaction."""

    first: int
    second: int
    first_side: frozenset[int]
    second_side: frozenset[int]
    gain: float

    def spec(self, terms: Sequence[Term]) -> Spec:
        """Four cells: neither part, only the second, only the first, both."""
        import numpy as np

        a = np.isin(terms[self.first].codes, list(self.first_side))
        b = np.isin(terms[self.second].codes, list(self.second_side))
        return Spec((2 * a + b).astype(np.int64), 4)


def _order(term: Term, score: Vector) -> tuple[list[int], int] | None:
    """The bins in an order whose every tail a rule can state, and where the first allowed cut is."""
    if term.decays:
        return None
    if term.kind in ("number", "age"):
        return list(range(term.size)), 1
    valued = [i for i, b in enumerate(term.bins) if b.kind in ("value", "fires")]
    rest = [i for i in range(term.size) if i not in valued]
    valued.sort(key=lambda i: score[i])
    return [*rest, *valued], max(1, len(rest))


def condition(term: Term, side: frozenset[int]) -> dict[str, Any]:
    """The condition on one attribute that holds exactly for the bins in `side` (a tail of `_order`)."""
    if term.kind == "class" and term.rule is not None:
        found = term.rule.model_dump(by_alias=True, exclude_none=True)
        return {k: v for k, v in found.items() if k not in ("label", "points")}
    if term.kind in ("number", "age"):
        first = term.bins[min(side)]
        if first.kind == "zero":
            return {"attribute": term.name, "at_least": 0.0}
        if first.low is None or first.kind == "missing":
            return {"attribute": term.name, "present": True}
        if term.kind == "age":
            return {"attribute": term.name, "days_ago": {"at_least": first.low}}
        return {"attribute": term.name, "at_least": first.low}
    values = [term.bins[i].condition["is"] for i in sorted(side) if term.bins[i].condition]  # type: ignore[index]
    return {"attribute": term.name, "is": values[0]} if len(values) == 1 else {"attribute": term.name, "in": values}


def side_text(term: Term, side: frozenset[int]) -> str:
    """How a person reads one side: `Time on site: 7 or more`, `Industry: Retail or Banking`."""
    if term.kind == "class":
        return term.label
    if term.kind in ("number", "age"):
        first = term.bins[min(side)]
        if first.kind == "zero":
            return f"{term.label}: 0 or more"
        if first.low is None or first.kind == "missing":
            return f"{term.label}: recorded"
        from integration.calibration.features import number_label

        unit = " days ago" if term.kind == "age" else ""
        return f"{term.label}: {number_label(first.low)}{unit} or more"
    return f"{term.label}: {' or '.join(term.bins[i].text for i in sorted(side))}"


def search(
    terms: Sequence[Term],
    shapes: Shapes,
    total: Vector,
    truth: Vector,
    weights: Vector,
    rows: Sequence[int],
    limit: int = MAX_PAIRS,
) -> list[Pair]:
    """Up to `limit` pairs ranked by the Newton gain of their best 2x2 cut on what the shapes leave unexplained."""
    import numpy as np

    fit = np.asarray(rows, dtype=np.int64)
    y, w = truth[fit], weights[fit]
    p = 0.5 * (1.0 + np.tanh(0.5 * total))
    g, h = w * (p - y), w * p * (1 - p)
    enough = least(len(rows))
    orders = [_order(t, s) for t, s in zip(terms, shapes.scores, strict=True)]
    found: list[Pair] = []
    for i, first in enumerate(orders):
        if first is None:
            continue
        for j in range(i + 1, len(terms)):
            second = orders[j]
            if second is None or terms[i].name == terms[j].name:
                continue
            pair = _best(terms, i, j, first, second, g, h, fit, enough)
            if pair is not None and pair.gain >= MIN_GAIN:
                found.append(pair)
    found.sort(key=lambda pair: -pair.gain)
    return found[:limit]


def _cells(cell: Any, values: Vector, ka: int, kb: int) -> Vector:
    import numpy as np

    return np.asarray(np.bincount(cell, weights=values, minlength=ka * kb), dtype=float).reshape(ka, kb)


def _suffix(cells: Vector) -> Vector:
    import numpy as np

    return np.asarray(cells[::-1, ::-1].cumsum(0).cumsum(1)[::-1, ::-1], dtype=float)


def _best(
    terms: Sequence[Term],
    i: int,
    j: int,
    first: tuple[list[int], int],
    second: tuple[list[int], int],
    g: Vector,
    h: Vector,
    fit: Any,
    enough: int,
) -> Pair | None:
    import numpy as np

    order_a, start_a = first
    order_b, start_b = second
    ka, kb = len(order_a), len(order_b)
    position_a = np.empty(ka, dtype=np.int64)
    position_a[order_a] = np.arange(ka)
    position_b = np.empty(kb, dtype=np.int64)
    position_b[order_b] = np.arange(kb)
    cell = position_a[terms[i].codes[fit]] * kb + position_b[terms[j].codes[fit]]
    sums = [_suffix(_cells(cell, v, ka, kb)) for v in (g, h, np.ones_like(g, dtype=float))]

    def quadrants(s: Vector) -> list[Vector]:
        a = s[start_a:ka, start_b:kb]  # both tails
        row = s[start_a:ka, :1]  # first tail, any second
        col = s[:1, start_b:kb]
        whole = s[0, 0]
        return [a, row - a, col - a, whole - row - col + a]

    grad, curve, count = (quadrants(s) for s in sums)
    gain = sum(q * q / (c + SMOOTHING) for q, c in zip(grad, curve, strict=True))
    gain = gain - sums[0][0, 0] ** 2 / (sums[1][0, 0] + SMOOTHING)
    thin = np.zeros_like(gain, dtype=bool)
    for n in count:
        thin |= n < enough
    gain = np.where(thin, -np.inf, gain)
    if gain.size == 0 or not np.isfinite(gain.max()):
        return None
    a, b = np.unravel_index(int(gain.argmax()), gain.shape)
    return Pair(
        i,
        j,
        frozenset(order_a[start_a + int(a) :]),
        frozenset(order_b[start_b + int(b) :]),
        float(gain.max()),
    )


def fold(terms: Sequence[Term], shapes: Shapes, pairs: Sequence[Pair]) -> tuple[Shapes, list[float]]:
    """Each pair's parts about one attribute alone moved into that attribute's shape; what is left, per pair."""
    scores = [s.copy() for s in shapes.scores[: len(terms)]]
    intercept = shapes.intercept
    left = []
    for pair, cells in zip(pairs, shapes.scores[len(terms) :], strict=True):
        none, only_second, only_first, both = (float(c) for c in cells)
        for index, side, value in (
            (pair.first, pair.first_side, only_first - none),
            (pair.second, pair.second_side, only_second - none),
        ):
            for b in side:
                scores[index][b] += value
        intercept += none
        left.append(both - only_first - only_second + none)
    return Shapes(intercept, scores, shapes.rounds), left


def moved_to(pair: Pair, tables: dict[int, list[int]]) -> Pair:
    """The same pair on coarser bins (`tables[term]` maps each fine bin to its coarse one)."""
    first = frozenset(tables[pair.first][b] for b in pair.first_side) if pair.first in tables else pair.first_side
    second = frozenset(tables[pair.second][b] for b in pair.second_side) if pair.second in tables else pair.second_side
    return Pair(pair.first, pair.second, first, second, pair.gain)


def pays(
    spec: Spec,
    fitted: Vector,
    held: Vector,
    truth: Vector,
    weights: Vector,
    rows: Any,
    check: Any,
    tolerance: float,
) -> bool:
    """Whether the pair's four cells, fitted on `rows` with everything else fixed, predict `check` better."""
    import numpy as np

    from integration.calibration.shapes import loss

    y, w = truth[rows], weights[rows]
    codes = spec.codes[rows]
    cells = np.zeros(4)
    for _ in range(8):
        p = 0.5 * (1.0 + np.tanh(0.5 * (fitted + cells[codes])))
        grad = np.bincount(codes, weights=w * (p - y), minlength=4)
        curve = np.bincount(codes, weights=w * p * (1 - p), minlength=4)
        cells -= grad / (curve + SMOOTHING)
    before = loss(held, truth[check], weights[check])
    after = loss(held + cells[spec.codes[check]], truth[check], weights[check])
    return after < before - tolerance
