"""One calibration, as the CLI and the console both run it: split, leakage, learning, warnings, the noise verdict.

Everything a person is told about learned rules comes from here, so `leadtherm calibrate` and the
console's Learn can never disagree about what was left out or whether the history says anything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from integration.calibration.calibrate import Calibration, calibrate
from integration.calibration.checks import Suspect, leakage, learnable, too_little
from integration.calibration.history import CalibrationError, History
from integration.calibration.statistics import split as stratified
from mappings.schema import ScoringRules

MIN_PER_SIDE = 2  # a forward holdout (or its training part) needs this many of each outcome


@dataclass(frozen=True)
class Options:
    """The choices a person makes for one calibration (CLI flags, console fields)."""

    holdout: float = 0.3
    seed: int = 7
    balanced: bool = False
    keep_leaky: bool = False
    force: bool = False  # write rules even when the history does not separate converters


@dataclass(frozen=True)
class Split:
    """Training and holdout rows, and the sentence that names how they were chosen."""

    train: list[int]
    test: list[int]
    description: str
    forward: bool


@dataclass(frozen=True)
class LeftOut:
    """A column calibrate did not learn from, and why."""

    attribute: str
    column: str
    why: str
    suspect: Suspect | None = None  # the evidence, when it was left out as leakage

    def __str__(self) -> str:
        return self.why if self.suspect is not None else f"column {self.column} ({self.attribute}): {self.why}"


@dataclass(frozen=True)
class Outcome:
    """What one calibration found: the learned rules (or why none may be written) and everything to say about them."""

    history: History
    split: Split
    calibration: Calibration
    left_out: tuple[LeftOut, ...]
    kept_leaky: tuple[Suspect, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    interval: tuple[float, float]
    separates: bool
    options: Options

    @property
    def writes_rules(self) -> bool:
        """Rules are written when the history separates converters, or when the person forces it."""
        return self.separates or self.options.force

    @property
    def verdict(self) -> str:
        """One sentence on whether the history separates converters from the rest."""
        low, high = self.interval
        figure = f"holdout AUC {self.calibration.points_auc:.3f} (95% interval {low:.3f} to {high:.3f})"
        if self.separates:
            return f"the learned points separate converters from the rest: {figure}"
        return f"the history does not separate converters from the rest: {figure} includes 0.5"


def _stratified(history: History, holdout: float, seed: int, why: str = "") -> Split:
    train, test = stratified(history.outcomes, holdout, seed)
    text = f"stratified random {holdout:.0%} (seed {seed}): trained on {len(train):,} leads, measured on {len(test):,}"
    return Split(train, test, text + why, forward=False)


def holdout_split(history: History, holdout: float, seed: int) -> Split:
    """The most recent `holdout` share when the history dates its leads; a stratified random share otherwise."""
    n = len(history.outcomes)
    if history.created is None:
        return _stratified(history, holdout, seed)
    created = history.created
    order = sorted(range(n), key=lambda i: (created[i], i))
    cut = created[order[n - max(1, round(n * holdout))]]
    # The boundary is a day, as a person says it, when leads were created before that day; else the moment.
    day = cut.replace(hour=0, minute=0, second=0, microsecond=0)
    # ...but never at the cost of the split: a day that leaves under half the intended training part
    # (leads created over a few hours around midnight) is no boundary to learn from.
    intended = n - max(1, round(n * holdout))
    cut = day if sum(1 for c in created if c < day) >= max(1, intended // 2) else cut
    train = [i for i in range(n) if created[i] < cut]  # leads created at the very moment of the cut are held out
    test = [i for i in range(n) if created[i] >= cut]
    if not train:
        why = f"; the creation dates ({history.created_from}) are all the same moment, so they cannot order a holdout"
        return _stratified(history, holdout, seed, why)
    if len(train) < intended // 2:
        # Coarse dates (many leads created in the same second or day) can leave almost nothing to learn from.
        why = (
            f"; the creation dates ({history.created_from}) leave only {len(train)} lead(s) before the most recent "
            f"{holdout:.0%}, too few to learn from"
        )
        return _stratified(history, holdout, seed, why)
    boundary = f"{cut:%Y-%m-%d}" if cut == day else f"{cut:%Y-%m-%d %H:%M:%S}"
    for part, name in ((train, "before"), (test, "on or after")):
        won = sum(history.outcomes[i] for i in part)
        if won < MIN_PER_SIDE or len(part) - won < MIN_PER_SIDE:
            raise CalibrationError(
                f"{history.source}: the leads created {name} {boundary} ({history.created_from}) hold {won} "
                f"conversion(s) of {len(part)}; a forward holdout needs both outcomes on each side"
            )
    text = (
        f"forward: trained on the {len(train):,} leads created before {boundary}, "
        f"measured on the {len(test):,} created on or after (by {history.created_from})"
    )
    return Split(train, test, text, forward=True)


def _learn(history: History, current: ScoringRules, options: Options, leave_out: set[str], split: Split) -> Calibration:
    return calibrate(
        history,
        current,
        options.holdout,
        options.seed,
        options.balanced,
        leave_out=leave_out,
        split=(split.train, split.test),
    )


def _tested(rules: ScoringRules) -> list[str]:
    return [name for r in [*rules.fit, *rules.engagement, *rules.penalties] for name in r.attributes]


def run(history: History, current: ScoringRules, options: Options = Options()) -> Outcome:
    """Split, judge every column for leakage, learn, and say everything a person must know before using the rules."""
    split = holdout_split(history, options.holdout, options.seed)
    mapping = history.mapping
    declared = set(mapping.known_after_contact) if mapping is not None else set()
    columns = {name: ", ".join(found.sources) for name, found in (mapping.sources() if mapping else {}).items()}
    left_out = [
        LeftOut(name, columns.get(name, name), "declared known only after contact (known: after_contact)")
        for name in sorted(declared)
        if name in columns
    ]
    candidates = [a for a in learnable(history.attributes, _tested(current)) if a.name not in declared]
    suspects = leakage(history.leads, history.outcomes, candidates, split.train, split.test, history.as_of, mapping)
    warnings: list[str] = []
    if options.keep_leaky:
        warnings += [
            f"{s}; kept in the rules as asked (--keep-leaky): check it before trusting its points" for s in suspects
        ]
    else:
        left_out += [LeftOut(s.attribute, s.column, f"{s}", s) for s in suspects]
        warnings += [f"{s}; the column is left out of the rules (--keep-leaky keeps it)" for s in suspects]
    warnings += too_little(history.outcomes)
    result = _learn(history, current, options, {x.attribute for x in left_out}, split)
    interval, separates = result.auc_interval, result.separates
    outcome = Outcome(
        history=history,
        split=split,
        calibration=result,
        left_out=tuple(left_out),
        kept_leaky=tuple(suspects) if options.keep_leaky else (),
        warnings=(),
        notes=tuple(result.notes),
        interval=interval,
        separates=separates,
        options=options,
    )
    if not separates:
        action = (
            "rules written anyway as asked (--force)" if options.force else "no rules written (--force writes them)"
        )
        warnings.append(f"{outcome.verdict}; {action}")
    return replace(outcome, warnings=tuple(warnings))


def without_history(outcome: Outcome) -> Outcome:
    """The outcome without its leads (what travels back from a worker process); `with_history` puts them back."""
    bare = replace(outcome.history, leads=[])
    return replace(outcome, history=bare, calibration=replace(outcome.calibration, history=bare))


def with_history(outcome: Outcome, history: History) -> Outcome:
    """The outcome of `without_history` with the history it was learned from."""
    return replace(outcome, history=history, calibration=replace(outcome.calibration, history=history))


__all__ = ["LeftOut", "Options", "Outcome", "Split", "holdout_split", "run", "with_history", "without_history"]
