"""The calibration run: bins, jointly learned shapes, integer points on a fixed scale, bands, honest holdout figures."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from integration.calibration import notes
from integration.calibration.bands import Band, cells, choose, tally
from integration.calibration.binning import Term, coarsen, decay_factors, merged_bins, terms
from integration.calibration.history import CalibrationError, History
from integration.calibration.pairs import MAX_PAIRS, Pair, fold, moved_to, pays, search
from integration.calibration.points import Placed, Rendered, assemble, render
from integration.calibration.refine import TOLERANCE, choose_cuts
from integration.calibration.scale import auc_interval
from integration.calibration.shapes import Shapes, Spec, boost
from integration.calibration.statistics import auc
from integration.calibration.statistics import split as stratified
from integration.domain.scoring import assess
from mappings.grammar import SECTION_KEYS
from mappings.schema import ScoringRules

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

INNER_CHECK = 0.2  # of the training leads, held out again to stop boosting and to judge finer cuts and pairs
CHECKED = 300  # holdout leads scored by `assess` itself to confirm the points table


@dataclass(frozen=True)
class Support:
    """On the training split: the share of leads a rule fires for, and how many of those converted."""

    share: float
    rate: float


@dataclass(frozen=True)
class Calibration:
    """The learned rules and everything the report says about them."""

    history: History
    current: ScoringRules
    rules: ScoringRules
    placed: list[Placed]
    baseline: int
    support: dict[str, Support]
    train: list[int]
    test: list[int]
    model_auc: float
    points_auc: float
    current_auc: float
    holdout_points: list[int]
    holdout_model: list[float]
    holdout_current: list[int]
    bands: list[Band]  # on the holdout
    auc_interval: tuple[float, float] = (0.0, 1.0)  # 95% DeLong interval of the points' holdout AUC
    notes: list[str] = field(default_factory=list)  # findings a person reading the rules should know
    # Pairwise terms as compound rules ({"label", "all": [conditions], "points"}), strongest first.
    compound: list[dict[str, Any]] = field(default_factory=list)

    @property
    def holdout_outcomes(self) -> list[int]:
        return [self.history.outcomes[i] for i in self.test]

    @property
    def separates(self) -> bool:
        """Whether the points tell converters from the rest better than chance (the interval excludes 0.5)."""
        return self.auc_interval[0] > 0.5


def _given(split: tuple[list[int], list[int]], outcomes: Sequence[int]) -> tuple[list[int], list[int]]:
    train, test = sorted(set(split[0])), sorted(set(split[1]))
    if set(train) & set(test):
        raise CalibrationError("the training and holdout leads overlap: a lead can only be in one")
    if not train or not test or min(train[0], test[0]) < 0 or max(train[-1], test[-1]) >= len(outcomes):
        raise CalibrationError(f"the split must name leads 0-{len(outcomes) - 1} on both sides")
    for name, rows in (("training", train), ("holdout", test)):
        if len({outcomes[i] for i in rows}) < 2:
            raise CalibrationError(
                f"the {name} leads of the split all have the same outcome: nothing to learn or measure"
            )
    return train, test


def _spec(term: Term, truth: Vector, rows: Sequence[int]) -> Spec:
    """Free shapes, except behaviour: it only adds (engagement, decayed) or only subtracts (penalties)."""
    import numpy as np

    if not term.decays:
        return Spec(term.codes, term.size)
    fit = np.asarray(rows, dtype=np.int64)
    at_rest = term.codes[fit] == term.reference
    outcome = truth[fit]
    rising = at_rest.all() or float(outcome[~at_rest].mean()) >= float(outcome[at_rest].mean())
    # Behaviour that goes with converting less (newsletter only) is evidence against: a penalty, not decayed.
    return Spec(term.codes, term.size, decays=rising, sign=1 if rising else -1, fixed=term.reference)


def _weights(truth: Vector, train: Sequence[int], balanced: bool) -> Vector:
    import numpy as np

    weights = np.ones_like(truth)
    if balanced:
        rate = float(truth[list(train)].mean())
        weights = np.where(truth > 0, 0.5 / rate, 0.5 / (1 - rate))
    return weights


def _learn(
    found: list[Term], truth: Vector, weights: Vector, factors: Vector, train: list[int], seed: int
) -> tuple[list[Term], list[Spec], Shapes, list[Spec], Shapes, list[Pair]]:
    """Shapes on fine cuts; the pairs that pay on top of them; the cuts that pay (and those the pairs use).

    The inner split decides the structure and how long to boost; the final shapes are then boosted that long
    on every training lead, so no training lead is wasted on the decisions.
    """
    import numpy as np

    inner_fit, inner_check = stratified([int(truth[i]) for i in train], INNER_CHECK, seed)
    rows = [train[i] for i in inner_fit]
    check = [train[i] for i in inner_check]
    specs = [_spec(t, truth, train) for t in found]
    fine = boost(specs, truth, weights, factors, rows, check)
    fitted, held = fine.log_odds(specs, rows, factors), fine.log_odds(specs, check, factors)
    index, at = np.asarray(rows), np.asarray(check)
    pairs = [
        p
        for p in search(found, fine, fitted, truth, weights, rows, MAX_PAIRS)
        if pays(p.spec(found), fitted, held, truth, weights, index, at, TOLERANCE)
    ]
    needed = {t for p in pairs for t in (p.first, p.second)}
    chosen = choose_cuts(found, specs, fine, truth, weights, factors, rows, check, needed)
    # A pair's cut stays a cut of its number, so the pair's parts about one attribute fold into its shape.
    tables: dict[int, list[int]] = {}
    for pair in pairs:
        for t, side in ((pair.first, pair.first_side), (pair.second, pair.second_side)):
            term = found[t]
            edge = term.bins[min(side)].low
            if term.kind in ("number", "age") and edge is not None:
                keep = [c for c in sorted({*chosen[t].cuts, edge}) if c in term.cuts]
                chosen[t] = coarsen(term, keep)
                tables[t] = merged_bins(term, keep)
    pairs = [moved_to(p, tables) for p in pairs]
    specs = [_spec(t, truth, train) for t in chosen]
    every = [*specs, *(p.spec(chosen) for p in pairs)]
    rounds = boost(every, truth, weights, factors, rows, check).rounds
    final = boost(every, truth, weights, factors, train, rounds=rounds)
    return chosen, specs, final, every, final, pairs


def _members(rule: Placed, found: Sequence[Term], pairs: Sequence[Spec], index: Any) -> Any:
    """Which of the leads at `index` a learned rule fires for."""
    if rule.pair >= 0:
        return pairs[rule.pair].codes[index] == 3
    return found[rule.term].codes[index] == rule.bin


def _scores(
    rendered: Rendered, found: Sequence[Term], pairs: Sequence[Spec], factors: Vector, rows: Sequence[int]
) -> list[int]:
    """The scores `assess` gives these leads under the learned rules, added up from the points table at once.

    The scorer's own arithmetic: fit (with the starting points) and engagement each clipped to 0-100,
    engagement decayed, penalties added, the total clipped and rounded half up.
    """
    import numpy as np

    index = np.asarray(rows, dtype=np.int64)
    axes = _axes(rendered, found, pairs, rows)
    raw = np.clip(
        np.clip(axes["fit"], 0, 100) + np.clip(axes["engagement"], 0, 100) * factors[index] + axes["penalties"], 0, 100
    )
    return [int(v) for v in np.floor(raw + 0.5)]


def _clipped(
    rendered: Rendered, found: Sequence[Term], pairs: Sequence[Spec], factors: Vector, rows: list[int]
) -> float:
    """The share of leads whose points add up outside 0-100: what the score range clips."""
    import numpy as np

    axes = _axes(rendered, found, pairs, rows)
    total = axes["fit"] + axes["engagement"] * factors[np.asarray(rows, dtype=np.int64)] + axes["penalties"]
    return float(np.mean((total < -0.5) | (total > 100.5)))


def _axes(rendered: Rendered, found: Sequence[Term], pairs: Sequence[Spec], rows: Sequence[int]) -> dict[str, Vector]:
    """Fit (with the starting points), engagement before decay and penalties, per lead."""
    import numpy as np

    index = np.asarray(rows, dtype=np.int64)
    axes = {name: np.zeros(index.size) for name in SECTION_KEYS}
    axes["fit"] += rendered.baseline
    tables: dict[tuple[int, str], Vector] = {}
    for rule in rendered.placed:
        if rule.pair >= 0:
            axes[rule.axis] += np.where(_members(rule, found, pairs, index), float(rule.points), 0.0)
            continue
        key = (rule.term, rule.axis)
        if key not in tables:
            tables[key] = np.zeros(found[rule.term].size)
        tables[key][rule.bin] += rule.points
    for (term, axis), points in tables.items():
        axes[axis] += points[found[term].codes[index]]
    return axes


def _qualified(history: History, required: Sequence[str], rows: Sequence[int]) -> list[bool]:
    gate = list(required)
    return [all(history.leads[i].get(name) is True for name in gate) for i in rows]


def same_as_the_scorer(history: History, rules: ScoringRules, rows: Sequence[int], scores: Sequence[int]) -> bool:
    """Whether `assess` itself gives these leads these scores under the rules."""
    return all(assess(history.leads[i], rules, history.as_of[i]).score == s for i, s in zip(rows, scores, strict=True))


def _scored(
    history: History,
    rules: ScoringRules,
    rendered: Rendered,
    found: Sequence[Term],
    pairs: Sequence[Spec],
    factors: Vector,
    rows: list[int],
) -> list[int]:
    """The leads' scores from the points table, checked on a sample against `assess` (which wins if they differ)."""
    scores = _scores(rendered, found, pairs, factors, rows)
    step = max(1, len(rows) // CHECKED)
    if same_as_the_scorer(history, rules, rows[::step], scores[::step]):
        return scores
    return [assess(history.leads[i], rules, history.as_of[i]).score for i in rows]


def calibrate(
    history: History,
    current: ScoringRules,
    holdout: float = 0.3,
    seed: int = 7,
    balanced: bool = False,
    leave_out: Collection[str] = (),
    split: tuple[list[int], list[int]] | None = None,
) -> Calibration:
    """Learn points on a training split (stratified, or the caller's); measure them, the model and the current rules.

    `leave_out` names attributes not to learn from: columns that leak the outcome. The whole column goes,
    since its other values are the leaky value's complement ("not yet a customer") and leak as much.
    `split` is (training, holdout) lead indices, e.g. the most recent 30% held out.
    """
    import numpy as np

    leads, outcomes = history.leads, history.outcomes
    train, test = _given(split, outcomes) if split is not None else stratified(outcomes, holdout, seed)
    truth = np.asarray(outcomes, dtype=float)
    factors = np.asarray(decay_factors(leads, history.as_of, current), dtype=float)
    found = terms(leads, history.as_of, current, history.attributes, train, leave_out)
    if not found:
        raise CalibrationError(
            f"{history.source}: no mapped column varies enough to learn from (each value needs 20+ leads)"
        )
    weights = _weights(truth, train, balanced)
    chosen, specs, shapes, every, joint, pairs = _learn(found, truth, weights, factors, train, seed)
    folded, interactions = fold(chosen, joint, pairs) if pairs else (shapes, [])
    rendered = render(chosen, specs, folded, pairs, interactions)
    supplied = [a.name for a in history.attributes]
    required = [c for c in current.qualification.required if c in supplied]

    train_outcomes = [outcomes[i] for i in train]
    gate = required or list(current.qualification.required)
    qualified = _qualified(history, gate, train)
    draft = assemble(current, rendered.placed, rendered.baseline, (25, 50, 75), required)  # bands do not matter
    cells_of_pairs = every[len(specs) :]
    thresholds = choose(
        _scored(history, draft, rendered, chosen, cells_of_pairs, factors, train), qualified, train_outcomes
    )
    rules = assemble(current, rendered.placed, rendered.baseline, thresholds, required)

    held = [outcomes[i] for i in test]
    scores = _scored(history, rules, rendered, chosen, cells_of_pairs, factors, test)
    raw = joint.log_odds(every, test, factors).tolist()
    before = [assess(leads[i], current, history.as_of[i]).score for i in test]
    points_auc, low, high = auc_interval(held, [float(s) for s in scores])
    base_rate = sum(train_outcomes) / len(train)
    found_notes = [
        *notes.separation(points_auc, low, high),
        *notes.scale(
            0.5 if balanced else base_rate,
            rendered.baseline,
            _clipped(rendered, chosen, cells_of_pairs, factors, train),
        ),
        *notes.gate(current.qualification.required, supplied, any(qualified)),
        *notes.duplicates(rendered.placed, chosen, train),
        *notes.signs(rendered.placed, chosen, truth, train, base_rate),
        *notes.silent(chosen, rendered.table),
    ]
    return Calibration(
        history=history,
        current=current,
        rules=rules,
        placed=rendered.placed,
        baseline=rendered.baseline,
        support=_support(rendered.placed, chosen, cells_of_pairs, truth, train),
        train=train,
        test=test,
        model_auc=auc(held, raw),
        points_auc=points_auc,
        current_auc=auc(held, before),
        holdout_points=scores,
        holdout_model=raw,
        holdout_current=before,
        bands=tally(cells(scores, _qualified(history, gate, test), held), thresholds),
        auc_interval=(low, high),
        notes=found_notes,
        compound=rendered.compound,
    )


def _support(
    placed: Sequence[Placed], found: Sequence[Term], pairs: Sequence[Spec], truth: Vector, train: Sequence[int]
) -> dict[str, Support]:
    import numpy as np

    fit = np.asarray(train, dtype=np.int64)
    outcome = truth[fit]
    support = {}
    for rule in placed:
        hits = _members(rule, found, pairs, fit)
        count = int(hits.sum())
        support[rule.feature.rule.label] = Support(count / len(train), float(outcome[hits].mean()) if count else 0.0)
    return support
