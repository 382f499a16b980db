"""Before anything is written: how an edit of the rules moves each record, and how well it would have predicted.

Pure functions over leads and rules. The preview assesses sample records with the rules in
force and with the edited ones; the what-if replays an outcome history through both on the
same holdout that `calibrate` uses (the most recent leads when the history dates them, a
stratified share otherwise), so the two sets of figures compare directly.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from integration.calibration.bands import Band, cells, tally
from integration.calibration.history import History
from integration.calibration.session import holdout_split
from integration.calibration.statistics import auc
from integration.domain.model import Assessment, Lead, Temperature
from integration.domain.scoring import assess, segment_holds
from mappings.schema import Condition, Rule, ScoringRules

TOP_SHARE = 0.2  # "lift of the top 20%"
PROGRESS_EVERY = 250  # leads between two progress reports of a long what-if


@dataclass(frozen=True, slots=True)
class Sample:
    """A record to preview: the Lead and the company it belongs to (shown; never a name or e-mail)."""

    lead: Lead
    company: str | None = None


@dataclass(frozen=True, slots=True)
class PreviewRow:
    sample: Sample
    before: Assessment
    after: Assessment

    @property
    def moved(self) -> bool:
        b, a = self.before, self.after
        return (b.score, b.temperature, b.stage) != (a.score, a.temperature, a.stage)


def all_rules(rules: ScoringRules) -> list[Rule]:
    return [*rules.fit, *rules.engagement, *rules.penalties]


def attributes_tested(*rulesets: ScoringRules) -> list[str]:
    """The attributes the rules test, in the order they first appear (the preview's columns)."""
    return list(dict.fromkeys(a for rules in rulesets for r in all_rules(rules) for a in r.attributes))


def preview(samples: Sequence[Sample], before: ScoringRules, after: ScoringRules, now: datetime) -> list[PreviewRow]:
    """Each sample assessed with the rules in force and with the edited rules, as of `now`."""
    return [PreviewRow(s, assess(s.lead, before, now), assess(s.lead, after, now)) for s in samples]


@dataclass(frozen=True)
class Side:
    """One set of rules judged on the holdout."""

    auc: float
    bands: list[Band]
    top_rate: float  # conversion among the top TOP_SHARE of scores
    lift: float  # top_rate over the holdout's overall rate


@dataclass(frozen=True)
class WhatIf:
    """Current against edited rules on one history."""

    source: str
    leads: int
    conversions: int
    holdout: int
    current: Side
    edited: Side
    moves: dict[tuple[Temperature, Temperature], int]  # (current, edited) -> leads, over the whole history
    split: str = ""  # how the holdout was chosen, as the calibrate report names it

    @property
    def warmer(self) -> int:
        return sum(n for (a, b), n in self.moves.items() if b.rank > a.rank)

    @property
    def cooler(self) -> int:
        return sum(n for (a, b), n in self.moves.items() if b.rank < a.rank)

    @property
    def unchanged(self) -> int:
        return sum(n for (a, b), n in self.moves.items() if a is b)


def top_lift(scores: Sequence[float], outcomes: Sequence[int], share: float = TOP_SHARE) -> tuple[float, float]:
    """(conversion rate of the top `share` by score, that over the overall rate); ties by position."""
    if not scores:
        return 0.0, 0.0
    ordered = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    top = ordered[: max(1, round(len(ordered) * share))]
    rate = sum(outcomes[i] for i in top) / len(top)
    overall = sum(outcomes) / len(outcomes)
    return rate, (rate / overall if overall else 0.0)


def _side(judged: Sequence[Assessment], truth: Sequence[int], rules: ScoringRules) -> Side:
    scores = [a.score for a in judged]
    t = rules.temperature
    bands = tally(cells(scores, [not a.missing_for_hot for a in judged], truth), (t.cool, t.warm, t.hot))
    rate, lift = top_lift([float(s) for s in scores], truth)
    return Side(auc(truth, scores), bands, rate, lift)


def what_if(
    history: History,
    current: ScoringRules,
    edited: ScoringRules,
    holdout: float = 0.3,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> WhatIf:
    """Both rule sets on the same holdout as `calibrate` chooses it, and their moves over all leads.

    `progress(done, total)` is told every few hundred leads (the console's job page shows it).
    """
    chosen = holdout_split(history, holdout, seed)
    test = chosen.test
    before: list[Assessment] = []
    after: list[Assessment] = []
    total = len(history.leads)
    for n, (lead, at) in enumerate(zip(history.leads, history.as_of, strict=True), 1):
        before.append(assess(lead, current, at))
        after.append(assess(lead, edited, at))
        if progress is not None and (n % PROGRESS_EVERY == 0 or n == total):
            progress(n, total)
    truth = [history.outcomes[i] for i in test]
    moves = Counter((b.temperature, a.temperature) for b, a in zip(before, after, strict=True))
    return WhatIf(
        source=history.source,
        leads=len(history.leads),
        conversions=sum(history.outcomes),
        holdout=len(test),
        current=_side([before[i] for i in test], truth, current),
        edited=_side([after[i] for i in test], truth, edited),
        moves=dict(moves),
        split=chosen.description,
    )


def in_segment(history: History, segment: tuple[Condition, ...]) -> History:
    """The history's leads in a named score's segment, each tested as of its own moment."""
    kept = [i for i, lead in enumerate(history.leads) if segment_holds(segment, lead.values, history.as_of[i])]
    created = None if history.created is None else tuple(history.created[i] for i in kept)
    return dataclasses.replace(
        history,
        source=f"{history.source} (the segment's {len(kept)} of {len(history.leads)} leads)",
        leads=[history.leads[i] for i in kept],
        outcomes=[history.outcomes[i] for i in kept],
        as_of=[history.as_of[i] for i in kept],
        created=created,
    )


__all__ = [
    "PreviewRow",
    "Sample",
    "Side",
    "WhatIf",
    "attributes_tested",
    "in_segment",
    "preview",
    "top_lift",
    "what_if",
]
