"""What a person should know when reading the learned rules: said in sentences, for the CLI, report and console."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from integration.calibration.binning import Term
from integration.calibration.points import Placed
from integration.calibration.scale import ANCHOR_AGAINST, ANCHOR_SCORE, POINTS_TO_DOUBLE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

SAME_LEADS = 0.9  # two rules firing for this share of the same leads (of either's) state one fact twice
SIGN_Z = 2.0  # a rate this many standard errors from the average is clearly above or below it
SIGN_POINTS = 3  # a flipped sign worth naming moves the odds by a quarter or more


def scale(base_rate: float, baseline: int, clipped: float) -> list[str]:
    """How to read the points (`base_rate` is 50% when the classes were weighed equally)."""
    found = [
        f"Points are on a fixed scale: {POINTS_TO_DOUBLE} points double a lead's odds of converting and a score "
        f"of {ANCHOR_SCORE} is odds of 1:{ANCHOR_AGAINST} (a {1 / (1 + ANCHOR_AGAINST):.0%} chance). Starting "
        f"points {baseline} come from the base rate ({base_rate:.1%}) and each attribute's reference value "
        "(its most common value, other values, or none recorded)."
    ]
    if clipped >= 0.001:
        found.append(
            f"{clipped:.1%} of the training leads total outside 0-100 and are clipped to it: the only change "
            "the score range forces on the learned points."
        )
    return found


def separation(auc: float, low: float, high: float) -> list[str]:
    if low > 0.5:
        return []
    return [
        f"The holdout AUC {auc:.3f} has a 95% interval {low:.3f}-{high:.3f} that includes 0.5: this history "
        "does not separate converters from the rest, so the learned points are no better than chance."
    ]


def duplicates(placed: Sequence[Placed], terms: Sequence[Term], rows: Sequence[int]) -> list[str]:
    """Rules from two columns that fire for (nearly) the same leads: one fact learned twice."""
    import numpy as np

    fit = np.asarray(rows, dtype=np.int64)
    members = [(p, terms[p.term].codes[fit] == p.bin) for p in placed if p.term >= 0]
    members.sort(key=lambda m: int(m[1].sum()))
    counts = [int(m[1].sum()) for m in members]
    found = []
    for i, (first, hits) in enumerate(members):
        for j in range(i + 1, len(members)):
            if counts[i] < SAME_LEADS * counts[j]:
                break
            second, others = members[j]
            if first.feature.group == second.feature.group:
                continue
            both = int(np.count_nonzero(hits & others))
            if both >= SAME_LEADS * max(counts[i], counts[j]):
                found.append(
                    f"'{first.feature.rule.label}' ({first.points:+d}) and '{second.feature.rule.label}' "
                    f"({second.points:+d}) fire for nearly the same leads ({both} of {counts[i]} and {counts[j]}): "
                    "one fact from two columns; together they give it their sum, so keep one if you edit them."
                )
    return found


def signs(
    placed: Sequence[Placed], terms: Sequence[Term], truth: Vector, rows: Sequence[int], base_rate: float
) -> list[str]:
    """Rules whose sign disagrees with how their own leads convert (another column's effect, collinear).

    Points are read against the attribute's reference value, so a value converting below both the average
    and the reference yet earning points (or above both yet losing points) says the opposite of its own data.
    """
    import numpy as np

    fit = np.asarray(rows, dtype=np.int64)
    outcome = truth[fit]
    found = []
    for rule in placed:
        if rule.term < 0 or abs(rule.points) < SIGN_POINTS:
            continue
        codes = terms[rule.term].codes[fit]
        hits = codes == rule.bin
        at_rest = codes == terms[rule.term].reference
        n = int(hits.sum())
        if not n or not at_rest.any():
            continue
        rate, reference = float(outcome[hits].mean()), float(outcome[at_rest].mean())
        error = SIGN_Z * (base_rate * (1 - base_rate) / n) ** 0.5
        low, high = min(base_rate, reference) - error, max(base_rate, reference) + error
        if (rule.points > 0 and rate < low) or (rule.points < 0 and rate > high):
            side = "below" if rule.points > 0 else "above"
            found.append(
                f"'{rule.feature.rule.label}' gets {rule.points:+d} points though its leads convert at {rate:.1%}, "
                f"{side} the {base_rate:.1%} average: the points correct for another column it moves with; "
                "read them together."
            )
    return found


def gate(required: Sequence[str], supplied: Sequence[str], reachable: bool) -> list[str]:
    """The qualification gate kept for what the mapping fills, and whether hot can be reached at all."""
    missing = [c for c in required if c not in supplied]
    kept = [c for c in required if c in supplied]
    if not kept:
        return [
            f"Hot is unreachable: it needs {', '.join(required)} confirmed and the mapping fills none of them. "
            "Map the fields your reps record them in, or leads stop at warm."
        ]
    found = []
    if missing:
        found.append(
            f"The qualification gate keeps {', '.join(kept)} (what the mapping fills) and drops {', '.join(missing)}."
        )
    if not reachable:
        found.append(f"Hot is unreachable in this history: no training lead has {', '.join(kept)} all confirmed.")
    return found


def silent(terms: Sequence[Term], table: Sequence[Sequence[int]]) -> list[str]:
    """Attributes learned from that earn no points: their values convert alike once the others are counted."""
    names = [t.label for t, row in zip(terms, table, strict=True) if not any(row) and t.kind != "class"]
    if not names:
        return []
    return [f"No points for {', '.join(names)}: once the other columns are counted, their values convert alike."]
