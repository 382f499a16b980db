"""Verdicts of many leads under one rule set (what `score` writes per row), remembered per projection.

A lead's assessment is a pure function of what the rules make of its attributes, of the attributes the
qualification gate and the stage read, of its last engagement and of the moment. Exports repeat the
first two heavily (titles, sizes, industries, countries, counters past their cap) while the last
engagement is nearly unique per row, so the work splits in two:

- per projection (each rule group's outcome, the gate's and the stage's values): the axes, the lines
  of the formula and their rounding order, the qualification and the stage evidence, in a bounded dict;
- per row: the decay since the last engagement, the score, and which whole-points rounding the decay
  line lands in (one float compared with the projection's sorted remainders); the reasons text and
  the points per rounding are remembered with the number of silent days left as a placeholder.

Every value is the one `assess` and `reasons_text` give (tests/test_verdicts.py checks that on random
leads and rules). Rules that test a date's age (`days_ago`) read the moment per lead: those take `assess`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple

from integration.domain.model import Assessment, Lead, Reason, Stage, Temperature, signed
from integration.domain.outputs import REASONS_MAX_CHARS, points_json, reasons_text
from integration.domain.scoring import (
    _CONTACT_DATA,
    _CONVERTED,
    _DAY_SECONDS,
    _LAST_ENGAGEMENT,
    _LIFECYCLE,
    _OPEN_DEAL,
    _OUTCOMES_REMEMBERED,
    _WON_DEAL,
    _AttributeRules,
    _axes,
    _Compiled,
    _compiled,
    _earned,
    _stage,
    _utc,
    assess,
    decay_label,
    fixed_lines,
)
from mappings.grammar import SECTIONS
from mappings.schema import ScoringRules

REASONS_SHOWN = 3  # the reasons an export row names; the others are summed in one item
PROJECTIONS_REMEMBERED = 8192  # past it the oldest is forgotten: memory stays bounded
ROUNDINGS_REMEMBERED = 64  # ways a projection's fixed lines round, per projection (a few in practice)
_OUTCOME_CLASSES = (str, int, bool, float)


class Verdict(NamedTuple):
    """What an export row shows of an assessment."""

    score: int
    fit: int
    engagement: int
    temperature: Temperature
    stage: Stage
    reasons: str  # the top REASONS_SHOWN lines, the rest summed (reasons_text)
    points: str  # every line of the score as a JSON array (points_json)

    @classmethod
    def of(cls, assessment: Assessment) -> Verdict:
        return cls(
            assessment.score,
            assessment.fit,
            assessment.engagement,
            assessment.temperature,
            assessment.stage,
            reasons_text(assessment, REASONS_SHOWN),
            points_json(assessment.lines()),
        )


class _Projection:
    """What every lead of one projection shares: the axes and the lines that do not move with the moment."""

    __slots__ = (
        "axes",
        "confirm",
        "fit",
        "fixed",
        "floored",
        "floors",
        "full",
        "missing",
        "order",
        "penalties",
        "qualified",
        "remainders",
        "rounded",
        "stage_above",
        "stage_below",
        "weighted_engagement",
        "weighted_fit",
    )  # fmt: skip

    def __init__(self, c: _Compiled, lead: Lead) -> None:
        self.axes = axes = _axes(c, lead, 0.0)
        values = lead.values
        self.missing = tuple([name for name in c.required if values.get(name) is not True])
        self.qualified = qualified = not self.missing
        self.confirm = "hot once confirmed: " + ", ".join(self.missing) if self.missing else ""
        # The stage reads the score only as below the MQL score or not.
        self.stage_below = _stage(c, values, c.mql_score - 1, qualified)
        self.stage_above = _stage(c, values, c.mql_score, qualified)
        self.fit = math.floor(axes.fit + 0.5)
        # The terms of _combined, each computed as it computes them.
        self.weighted_fit = c.fit_weight * axes.fit
        self.weighted_engagement = c.engagement_weight * axes.engagement_full
        self.penalties = axes.penalties
        self.full = axes.engagement_full
        self.fixed = fixed_lines(c, axes)
        contributions = [line[3] for line in self.fixed]
        self.floors = floors = [math.floor(v) for v in contributions]
        self.floored = sum(floors)
        keys = [f - v for f, v in zip(floors, contributions, strict=True)]
        # _largest_remainder's order (the largest remainder first, ties in line order) and its keys sorted.
        self.order = sorted(range(len(keys)), key=keys.__getitem__)
        self.remainders = sorted(keys)
        self.rounded: dict[int, _Rounded] = {}

    def rounded_up(self, ups: int) -> _Rounded:
        """The fixed lines when the `ups` largest remainders round up."""
        whole = list(self.floors)
        for i in self.order[:ups]:
            whole[i] += 1
        kept = [
            Reason(axis, label, float(points), None if axis == "start" else on_axis)
            for (axis, label, on_axis, _, always), points in zip(self.fixed, whole, strict=True)
            if points or (always and axis != "start")
        ]
        if len(self.rounded) >= ROUNDINGS_REMEMBERED:
            self.rounded.clear()
        made = self.rounded[ups] = _Rounded(kept)
        return made


class _Rounded:
    """A projection's fixed lines rounded one way: ranked as reasons_text ranks them, and as JSON."""

    __slots__ = ("heads", "json", "json_and", "parts", "plain", "points", "ranks", "sums", "total")

    def __init__(self, lines: list[Reason]) -> None:
        ranked = sorted(lines, key=lambda r: -abs(r.points))
        self.ranks = [-abs(r.points) for r in ranked]
        self.parts = [str(r) for r in ranked]
        self.points = [int(r.points) for r in ranked]
        self.total = sum(self.points)
        # The first k parts joined and their points, for every k a text can show.
        self.heads = ["; ".join(self.parts[:k]) for k in range(REASONS_SHOWN + 1)]
        self.sums = [sum(self.points[:k]) for k in range(REASONS_SHOWN + 1)]
        self.json = points_json(lines)[:-1]  # moving lines may follow
        self.json_and = self.json + ", " if lines else self.json
        self.plain = self.text([])

    def text_with(self, line: tuple[str, int, str]) -> str:
        """`text` with one moving line, the common case, without the lists."""
        part, points, _ = line
        count = len(self.parts) + 1
        shown = REASONS_SHOWN if count <= REASONS_SHOWN else REASONS_SHOWN - 1
        at = bisect_right(self.ranks, -abs(points))
        if at >= shown:
            text, used = self.heads[shown], self.sums[shown]
        else:
            text = "; ".join([*self.parts[:at], part, *self.parts[at : shown - 1]])
            used = self.sums[shown - 1] + points
        if count > shown:
            rest = self.total + points - used
            text = f"{text}; {count - shown} more ({_SIGNED.get(rest) or signed(rest)})"
        return text

    def text(self, extras: list[tuple[str, int, str]]) -> str:
        """reasons_text of these lines and the moving ones (each after the fixed lines of its size)."""
        count = len(self.parts) + len(extras)
        shown = REASONS_SHOWN if count <= REASONS_SHOWN else REASONS_SHOWN - 1
        if not extras:
            text, used = self.heads[shown], self.sums[shown]
        elif len(extras) == 1:
            part, points, _ = extras[0]
            at = bisect_right(self.ranks, -abs(points))
            if at >= shown:
                text, used = self.heads[shown], self.sums[shown]
            else:
                text = "; ".join([*self.parts[:at], part, *self.parts[at : shown - 1]])
                used = self.sums[shown - 1] + points
        else:
            merged = sorted(
                [*zip(self.parts, self.points, strict=True), *((e[0], e[1]) for e in extras)], key=lambda e: -abs(e[1])
            )[:shown]
            text, used = "; ".join([e[0] for e in merged]), sum(e[1] for e in merged)
        if count > shown:
            rest = self.total + sum(e[1] for e in extras) - used
            text = f"{text}; {count - shown} more ({signed(rest)})"
        return text


class _Outcomes:
    """One rule group's outcome per attribute value, as a small number (equal outcomes, equal numbers)."""

    __slots__ = ("by_class", "group", "numbers")

    def __init__(self, group: _AttributeRules, numbers: dict[tuple[Reason, ...], int]) -> None:
        self.group = group
        self.by_class: dict[type, dict[Any, int]] = {cls: {} for cls in _OUTCOME_CLASSES}
        self.numbers = numbers

    def learn(self, memo: dict[Any, int], value: Any) -> int:
        earned = _earned(self.group, value)
        number = self.numbers.setdefault(earned, len(self.numbers))
        if len(memo) >= _OUTCOMES_REMEMBERED:
            memo.clear()
        memo[value] = number
        return number


class Verdicts:
    """Verdicts under `rules` as of `now`, each equal to `Verdict.of(assess(lead, rules, now))`."""

    def __init__(self, rules: ScoringRules, now: datetime) -> None:
        self._rules = rules
        self._c = c = _compiled(rules)  # held: the remembered outcomes name its Reason objects by identity
        self._now = _utc(now)
        # A lead's projection, in three parts. Attributes the rules only look up by value (choices, flags)
        # and those the gate and the stage read: their values and classes, read in one call. Attributes
        # only tested for presence (the last engagement's date): present or not. The others (counts,
        # sizes, what a compound rule reads): what the rules make of them, as small numbers.
        numbers: dict[tuple[Reason, ...], int] = {}
        present_only = _present_only(rules)
        looked_up = [g.attribute for g in c.groups if not g.general]
        self._read = tuple(dict.fromkeys((*looked_up, *c.required, *_STAGE_READS)))
        self._read_all = itemgetter(*self._read) if len(self._read) > 1 else None
        self._present = tuple(g.attribute for g in c.groups if g.general and g.attribute in present_only)
        self._groups = tuple(
            (g.attribute, _Outcomes(g, numbers)) for g in c.groups if g.general and g.attribute not in present_only
        )
        self._values_read = tuple(dict.fromkeys(_compound_attributes(rules)))
        self._projections: dict[tuple[Any, ...], _Projection] = {}
        # Rules that test a date's age read the moment per lead, and compounds' dates likewise.
        self._per_lead = c.timed or bool(c.aged)
        self._cool, self._warm, self._hot = c.bands
        self._mql = c.mql_score
        self._grace, self._half_life = c.grace_days, c.half_life_days
        self._minus_weight = -c.engagement_weight
        self._decay_lines: dict[tuple[int, int], tuple[str, int, str]] = {}
        self.remembered = 0  # leads whose projection was remembered (the hit rate's numerator)
        self.seen = 0

    def verdict(self, lead: Lead) -> Verdict:
        """The lead's verdict: a remembered projection's plus this lead's decay."""
        if self._per_lead:
            return Verdict.of(assess(lead, self._rules, self._now))
        values = lead.values
        try:
            key = self._key(values)
            projection = self._projections.get(key)
        except TypeError:  # an unhashable value of an admin's attribute: nothing to remember it by
            return Verdict.of(assess(lead, self._rules, self._now))
        self.seen += 1
        if projection is None:
            projection = self._project(key, lead)
        else:
            self.remembered += 1
        return self._with_decay(projection, lead)

    def _key(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The lead's projection: every value the assessment reads, or what the rules make of it."""
        try:
            read = self._read_all(values) if self._read_all is not None else (values.get(self._read[0]),)
        except KeyError:  # an admin's attribute the lead does not hold
            read = tuple([values.get(attribute) for attribute in self._read])
        # True == 1 and Stage("lead") == "lead": the classes keep such values apart.
        key: list[Any] = [read, tuple(map(type, read))]
        append = key.append
        get = values.get
        for attribute in self._present:
            value = get(attribute)
            append(value is not None and value != "")
        for attribute, outcomes in self._groups:
            value = get(attribute)
            if value is None:
                append(None)
                continue
            memo = outcomes.by_class.get(value.__class__)
            if memo is None or (value.__class__ is float and not value):  # 0.0 and -0.0: equal keys, not texts
                # Dates and other objects: the identities of the reasons earned (made once per compiled rules).
                append(tuple(map(id, _earned(outcomes.group, value))))
                continue
            number = memo.get(value)
            append(outcomes.learn(memo, value) if number is None else number)
        for attribute in self._values_read:
            value = get(attribute)
            append((value.__class__, value, str(value)))
        return tuple(key)

    def _project(self, key: tuple[Any, ...], lead: Lead) -> _Projection:
        projection = _Projection(self._c, lead)
        if len(self._projections) >= PROJECTIONS_REMEMBERED:
            del self._projections[next(iter(self._projections))]  # the oldest
        self._projections[key] = projection
        return projection

    def _with_decay(self, p: _Projection, lead: Lead) -> Verdict:
        last: datetime | None = lead.values.get(_LAST_ENGAGEMENT)
        if last is None:
            factor, silent = 1.0, 0
        else:
            # As decay_factor and assess compute them, to the last bit.
            seconds = (self._now - (last if last.tzinfo is not None else _utc(last))).total_seconds()
            silent_days = seconds / _DAY_SECONDS - self._grace
            factor = float(0.5 ** ((silent_days if silent_days > 0.0 else 0.0) / self._half_life))
            silent = int(seconds // _DAY_SECONDS)
        combined = p.weighted_fit + p.weighted_engagement * factor + p.penalties
        kept = 0.0 if combined < 0.0 else 100.0 if combined > 100.0 else combined
        score = math.floor(kept + 0.5)
        if score >= self._hot and p.qualified:
            temperature = Temperature.HOT
        elif score >= self._warm:
            temperature = Temperature.WARM
        else:
            temperature = Temperature.COOL if score >= self._cool else Temperature.COLD
        # Which whole numbers the lines round to (_largest_remainder): the fixed lines' floors and the order
        # of their remainders are the projection's; only the decay line and the score's cap move with the
        # moment, each placed among the fixed remainders (after equal ones: it comes later in the lines).
        lost = p.full * (1.0 - factor)
        stage = p.stage_above if score >= self._mql else p.stage_below
        engagement = math.floor(p.full * factor + 0.5)
        if combined == kept:  # most leads: the decay line alone moves, if any
            if lost > 0:
                decay = self._minus_weight * lost
                floor = math.floor(decay)
                short = score - p.floored - floor
                up = bisect_right(p.remainders, floor - decay) < short
                ups, decayed = short - up, floor + up
            else:
                ups, decayed = score - p.floored, 0
            if 0 <= ups <= len(p.floors):
                fixed = p.rounded.get(ups) or p.rounded_up(ups)
                if decayed:
                    line = self._decay_lines.get((silent, decayed)) or self._decay_line(silent, decayed)
                    text, json = fixed.text_with(line), f"{fixed.json_and}{line[2]}]"
                else:
                    text, json = fixed.plain, fixed.json + "]"
                if p.confirm and temperature is Temperature.WARM:
                    text = f"{text}; {p.confirm}" if text else p.confirm
                if len(text) > REASONS_MAX_CHARS:
                    text = text[: REASONS_MAX_CHARS - 1] + "…"
                return Verdict._make((score, p.fit, engagement, temperature, stage, text, json))
        moving: list[tuple[float, float]] = []  # (contribution, remainder key) of the decay line, the score's cap
        if lost > 0:
            decay = self._minus_weight * lost
            moving.append((decay, math.floor(decay) - decay))
        if combined != kept:
            moving.append((kept - combined, math.floor(kept - combined) - (kept - combined)))
        short = score - p.floored - sum([math.floor(v) for v, _ in moving])
        ranks = [bisect_right(p.remainders, k) for _, k in moving]
        if len(moving) == 2:  # the later line goes after the earlier one when their remainders tie
            first, second = moving[0][1], moving[1][1]
            ranks = [ranks[0] + (second < first), ranks[1] + (first <= second)]
        wholes = [math.floor(v) + (rank < short) for (v, _), rank in zip(moving, ranks, strict=True)]
        ups = short - sum(rank < short for rank in ranks)
        if not 0 <= ups <= len(p.floors):  # float error only (see _largest_remainder)
            return Verdict.of(assess(lead, self._rules, self._now))
        fixed = p.rounded.get(ups) or p.rounded_up(ups)
        extras: list[tuple[str, int, str]] = []
        if lost > 0 and wholes[0]:
            extras.append(self._decay_line(silent, wholes[0]))
        if combined != kept and wholes[-1]:
            edge = "capped at 100" if combined > 100 else "floored at 0"
            extras.append(_line("cap", f"Score {edge}", wholes[-1]))
        text = fixed.text(extras)
        if p.confirm and temperature is Temperature.WARM:
            text = f"{text}; {p.confirm}" if text else p.confirm
        if len(text) > REASONS_MAX_CHARS:
            text = text[: REASONS_MAX_CHARS - 1] + "…"
        json = _json(fixed, extras)
        return Verdict._make((score, p.fit, engagement, temperature, stage, text, json))

    def _decay_line(self, silent: int, points: int) -> tuple[str, int, str]:
        known = self._decay_lines.get((silent, points))
        if known is None:
            if len(self._decay_lines) >= _DECAY_LINES_REMEMBERED:
                self._decay_lines.clear()
            known = self._decay_lines[(silent, points)] = _line("decay", decay_label(silent), points)
        return known


_DECAY_LINES_REMEMBERED = 4096
_SIGNED = {points: signed(points) for points in range(-200, 201)}  # what the "N more" items sum to, mostly


def _line(axis: str, label: str, points: int) -> tuple[str, int, str]:
    """A moving line as reasons_text shows it, its points, and as points_json writes it."""
    return f"{label} ({signed(points)})", points, points_json([Reason(axis, label, float(points))])[1:-1]


def _json(fixed: _Rounded, extras: list[tuple[str, int, str]]) -> str:
    if not extras:
        return fixed.json + "]"
    items = ", ".join([e[2] for e in extras])
    return f"{fixed.json}, {items}]" if fixed.parts else f"{fixed.json}{items}]"


_STAGE_READS = (_WON_DEAL, _OPEN_DEAL, _CONVERTED, _CONTACT_DATA, _LIFECYCLE)


def _present_only(rules: ScoringRules) -> set[str]:
    """Attributes whose every single-attribute rule (dates' ages apart) tests only whether a value is present."""
    tests: dict[str, list[bool]] = {}
    for section in SECTIONS:
        for rule in getattr(rules, section.key):
            if rule.attribute is not None and rule.days_ago is None:
                tests.setdefault(rule.attribute, []).append(rule.present is not None)
    return {attribute for attribute, present in tests.items() if all(present)}


def _compound_attributes(rules: ScoringRules) -> list[str]:
    """The attributes compound rules test (their values are part of a projection)."""
    return [
        condition.attribute
        for section in SECTIONS
        for rule in getattr(rules, section.key)
        if rule.attribute is None
        for condition in rule.conditions
        if condition.attribute is not None
    ]
