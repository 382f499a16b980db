"""Verdicts of many leads under one rule set: what `score` writes per row, each equal to `assess`'s.

A row's verdict needs its reasons (found as `assess` finds them), its score, temperature and stage, and
the whole-points lines of its score ranked for the reasons text. Two paths give the same values:

- assessed directly: `assess` without what an export row does not show (the next drop, the grid), the
  lines kept as (axis, label, points) and written through remembered texts rather than made into Reasons;
- remembered: leads with the same reasons and the same values for the gate and the stage (a projection)
  share the lines of the formula, their rounding order and ranked texts; per row only the decay since
  the last engagement (nearly unique per row) moves the score and one or two lines (the decay, a cap),
  each placed among the projection's sorted remainders.

Remembering costs more than assessing once: a projection is remembered on its second sighting, and no
new one once a window of rows is served less than HITS_TO_REMEMBER from memory. How often projections
recur depends on the export (choices and flags recur; counts below their rule's cap spread them).
Memory stays bounded. Rules that test a date's age (`days_ago`) read the moment per lead: `assess` each.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import OrderedDict
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
    _WON_DEAL,
    _Axes,
    _axes,
    _Compiled,
    _compiled,
    _largest_remainder,
    _raw_score,
    _round,
    _stage,
    _utc,
    assess,
    decay_factor,
    decay_label,
    fixed_lines,
    formula_lines,
    temperature_of,
)
from mappings.schema import ScoringRules

REASONS_SHOWN = 3  # the reasons an export row names; the others are summed in one item
_SIGNED = {points: signed(points) for points in range(-200, 201)}  # the points of a line, mostly
# Past these the oldest is forgotten: memory stays bounded whatever the export.
LINES_REMEMBERED = 2048  # distinct sets of reasons earned
PROJECTIONS_REMEMBERED = 2048  # distinct sets of reasons earned with the gate's and the stage's values
ONCE_REMEMBERED = 65536  # projections seen once (their hashes)
# Rows per judgement, and the share of them served from memory for remembering to pay: a remembered
# projection's row costs about half of assessing directly, remembering one about twice as much, and the
# rows neither served nor remembered are assessed directly anyway (measured in bench score_export).
WINDOW = 4096
HITS_TO_REMEMBER = 0.75
ROUNDINGS_REMEMBERED = 16  # ways one set of lines rounds (a few in practice)
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
    def of(cls, assessment: Assessment, points: bool = True) -> Verdict:
        """`points`: with every line as JSON ("" without)."""
        return cls(
            assessment.score,
            assessment.fit,
            assessment.engagement,
            assessment.temperature,
            assessment.stage,
            reasons_text(assessment, REASONS_SHOWN),
            points_json(assessment.lines()) if points else "",
        )


class _Lines:
    """What leads that earned the same reasons share: the axes and the lines that do not move with the moment."""

    __slots__ = (
        "fit",
        "fixed",
        "floored",
        "floors",
        "full",
        "order",
        "penalties",
        "remainders",
        "rounded",
        "weighted_engagement",
        "weighted_fit",
    )  # fmt: skip

    def __init__(self, c: _Compiled, axes: _Axes) -> None:
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
            (axis, label, points)
            for (axis, label, _, _, always), points in zip(self.fixed, whole, strict=True)
            if points or (always and axis != "start")  # Assessment.lines() leaves out starting points of 0
        ]
        if len(self.rounded) >= ROUNDINGS_REMEMBERED:
            self.rounded.clear()
        made = self.rounded[ups] = _Rounded(kept)
        return made


class _Projection:
    """What every lead of one projection shares: its lines, its qualification and its stage evidence."""

    __slots__ = (
        "confirm",
        "fit",
        "floored",
        "floors",
        "full",
        "lines",
        "missing",
        "penalties",
        "qualified",
        "remainders",
        "rounded",
        "stage_above",
        "stage_below",
        "weighted_engagement",
        "weighted_fit",
    )  # fmt: skip

    def __init__(self, c: _Compiled, values: Mapping[str, Any], lines: _Lines) -> None:
        self.lines = lines
        # Read on every row: copied here rather than looked up through `lines`.
        self.fit, self.weighted_fit, self.weighted_engagement = lines.fit, lines.weighted_fit, lines.weighted_engagement
        self.penalties, self.full, self.floors, self.floored = lines.penalties, lines.full, lines.floors, lines.floored
        self.remainders, self.rounded = lines.remainders, lines.rounded
        self.missing = tuple([name for name in c.required if values.get(name) is not True])
        self.qualified = qualified = not self.missing
        self.confirm = "hot once confirmed: " + ", ".join(self.missing) if self.missing else ""
        # The stage reads the score only as below the MQL score or not.
        self.stage_below = _stage(c, values, c.mql_score - 1, qualified)
        self.stage_above = _stage(c, values, c.mql_score, qualified)

    def rounded_up(self, ups: int) -> _Rounded:
        return self.lines.rounded_up(ups)


_LINE_TEXTS: dict[tuple[str, str, int], tuple[str, str]] = {}
_LINE_TEXTS_REMEMBERED = 16384


def _line_texts(axis: str, label: str, points: int) -> tuple[str, str]:
    """A line as reasons_text shows it and as points_json writes it (remembered: lines recur across leads)."""
    if axis == "decay":  # a label per number of days: plain ASCII, written out rather than remembered
        return f"{label} ({_SIGNED.get(points) or signed(points)})", (
            f'{{"axis": "decay", "label": "{label}", "points": {points}}}'
        )
    key = (axis, label, points)
    known = _LINE_TEXTS.get(key)
    if known is None:
        if len(_LINE_TEXTS) >= _LINE_TEXTS_REMEMBERED:
            _LINE_TEXTS.clear()
        reason = Reason(axis, label, float(points))
        known = _LINE_TEXTS[key] = (str(reason), points_json([reason])[1:-1])
    return known


def _by_size(line: tuple[str, str, int]) -> int:
    return -abs(line[2])


def _ranked_text(lines: list[tuple[str, str, int]]) -> str:
    """reasons_text of whole-point lines (without the qualification note)."""
    count = len(lines)
    shown = REASONS_SHOWN if count <= REASONS_SHOWN else REASONS_SHOWN - 1
    top = sorted(lines, key=_by_size)[:shown]
    text = "; ".join([_line_texts(*line)[0] for line in top])
    if count > shown:
        rest = sum([line[2] for line in lines]) - sum([line[2] for line in top])
        text = f"{text}; {count - shown} more ({_SIGNED.get(rest) or signed(rest)})"
    return text


class _Rounded:
    """Fixed lines rounded one way: ranked as reasons_text ranks them (the top ones written out), and as JSON."""

    __slots__ = ("count", "heads", "kept", "made_json", "made_plain", "parts", "points", "ranks", "sums", "total")

    def __init__(self, lines: list[tuple[str, str, int]]) -> None:
        ranked = sorted(lines, key=lambda line: -abs(line[2]))
        self.kept = lines
        self.count = len(ranked)
        self.ranks = [-abs(line[2]) for line in ranked]
        self.parts = [_line_texts(*line)[0] for line in ranked[:REASONS_SHOWN]]  # a text shows no more
        self.points = [line[2] for line in ranked]
        self.total = sum(self.points)
        # The first k parts joined and their points, for every k a text can show.
        self.heads = ["; ".join(self.parts[:k]) for k in range(REASONS_SHOWN + 1)]
        self.sums = [sum(self.points[:k]) for k in range(REASONS_SHOWN + 1)]
        self.made_json: str | None = None
        self.made_plain: str | None = None

    def json(self) -> str:
        """points_json of these lines without its closing bracket (moving lines may follow)."""
        if self.made_json is None:
            self.made_json = "[" + ", ".join([_line_texts(*line)[1] for line in self.kept])
        return self.made_json

    def plain(self) -> str:
        if self.made_plain is None:
            self.made_plain = self.text([])
        return self.made_plain

    def text_with(self, line: tuple[str, int, str]) -> str:
        """`text` with one moving line, the common case, without the lists."""
        part, points, _ = line
        count = self.count + 1
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
        count = self.count + len(extras)
        shown = REASONS_SHOWN if count <= REASONS_SHOWN else REASONS_SHOWN - 1
        if len(extras) == 1:
            return self.text_with(extras[0])
        if not extras:
            text, used = self.heads[shown], self.sums[shown]
        else:
            merged = sorted(
                [*zip(self.parts, self.points, strict=False), *((e[0], e[1]) for e in extras)], key=lambda e: -abs(e[1])
            )[:shown]
            text, used = "; ".join([e[0] for e in merged]), sum(e[1] for e in merged)
        if count > shown:
            rest = self.total + sum(e[1] for e in extras) - used
            text = f"{text}; {count - shown} more ({signed(rest)})"
        return text


class Verdicts:
    """Verdicts under `rules` as of `now`, each equal to `Verdict.of(assess(lead, rules, now))`."""

    def __init__(self, rules: ScoringRules, now: datetime, points: bool = True) -> None:
        """`points`: also write every line as JSON (Verdict.points; "" without)."""
        self._rules = rules
        self._points = points
        self._c = c = _compiled(rules)  # held: the remembered outcomes name its Reason objects by identity
        self._now = _utc(now)
        # What the qualification gate and the stage read, besides the score: one call reads them all.
        self._read = tuple(dict.fromkeys((*c.required, *_STAGE_READS)))
        self._read_all = itemgetter(*self._read) if len(self._read) > 1 else None
        # Ordered: forgetting the oldest of a plain dict leaves holes its iteration walks past, ever longer.
        self._projections: OrderedDict[tuple[Any, ...], _Projection] = OrderedDict()
        self._lines: OrderedDict[tuple[int, ...], _Lines] = OrderedDict()
        self._once: set[int] = set()
        self._remembering = True
        self._window = self._hits = self._judged = 0
        # Rules that test a date's age read the moment per lead, and compounds' dates likewise.
        self._per_lead = c.timed or bool(c.aged)
        self._cool, self._warm, self._hot = c.bands
        self._mql = c.mql_score
        self._grace, self._half_life = c.grace_days, c.half_life_days
        self._minus_weight = -c.engagement_weight
        self.remembered = 0  # leads whose projection was remembered (the hit rate's numerator)
        self.seen = 0

    def verdict(self, lead: Lead) -> Verdict:
        """The lead's verdict: its reasons as `assess` finds them, the rest remembered per reasons and evidence."""
        if self._per_lead:
            return self._assessed(lead)
        values = lead.values
        axes = _axes(self._c, lead, 0.0)
        try:
            read = self._read_all(values) if self._read_all is not None else (values.get(self._read[0]),)
        except KeyError:  # an admin's attribute the lead does not hold
            read = tuple([values.get(attribute) for attribute in self._read])
        # Reason objects are made once per compiled rules (held by self._c): their identities name them.
        # True == 1 and Stage("lead") == "lead": the classes keep such values apart.
        key = (tuple(map(id, axes.reasons)), read, tuple(map(type, read)))
        try:
            projection = self._projections.get(key)
        except TypeError:  # an unhashable value of an admin's attribute: nothing to remember it by
            return self._assessed(lead)
        self.seen += 1
        self._window += 1
        if self._window >= WINDOW:
            # Remembering pays when remembered projections recur: judged on each window's rows (after the
            # first two, which fill the memory), as exports differ. Off, the remembered ones still serve.
            self._judged += 1
            if self._judged > 2:
                self._remembering = self._hits >= WINDOW * HITS_TO_REMEMBER
            self._window = self._hits = 0
        if projection is None:
            # By hash: ints the garbage collector need not walk (a collision only remembers one sooner).
            seen = hash(key)
            if seen not in self._once:
                if len(self._once) >= ONCE_REMEMBERED:
                    self._once.clear()
                self._once.add(seen)
                return self._direct(lead, axes)
            if not self._remembering:  # remembering costs more than assessing once
                return self._direct(lead, axes)
            projection = self._project(key, axes, values)
        else:
            self._hits += 1
            self.remembered += 1
        return self._with_decay(projection, lead)

    def _direct(self, lead: Lead, axes: _Axes) -> Verdict:
        """What `assess` does, without what an export row does not show (the next drop, the grid)."""
        c, now, values = self._c, self._now, lead.values
        last: datetime | None = values.get(_LAST_ENGAGEMENT)
        factor = decay_factor(last, now, c.half_life_days, c.grace_days)
        score = _round(_raw_score(c, axes, factor))
        missing = tuple([name for name in c.required if values.get(name) is not True])
        temperature = temperature_of(score, not missing, *c.bands)
        silent = int((now - _utc(last)).total_seconds() // _DAY_SECONDS) if last is not None else 0
        lines = formula_lines(c, axes, factor, silent)
        whole = _largest_remainder([line[3] for line in lines], score)
        # The lines as _score_lines keeps them and Assessment.lines() lists them, without making Reasons.
        kept = [
            (axis, label, points)
            for (axis, label, _, _, always), points in zip(lines, whole, strict=True)
            if points or (always and axis != "start")
        ]
        text = _ranked_text(kept)
        if missing and temperature is Temperature.WARM:
            confirm = "hot once confirmed: " + ", ".join(missing)
            text = f"{text}; {confirm}" if text else confirm
        if len(text) > REASONS_MAX_CHARS:
            text = text[: REASONS_MAX_CHARS - 1] + "…"
        return Verdict._make(
            (
                score,
                _round(axes.fit),
                _round(axes.engagement_full * factor),
                temperature,
                _stage(c, values, score, not missing),
                text,
                "[" + ", ".join([_line_texts(*line)[1] for line in kept]) + "]" if self._points else "",
            )
        )

    @property
    def remembering(self) -> bool:
        """Whether new projections are still remembered (see HITS_TO_REMEMBER)."""
        return self._remembering

    def _assessed(self, lead: Lead) -> Verdict:
        """The general path, for what the remembered one leaves out."""
        return Verdict.of(assess(lead, self._rules, self._now), self._points)

    def _project(self, key: tuple[Any, ...], axes: _Axes, values: Mapping[str, Any]) -> _Projection:
        earned = key[0]
        lines = self._lines.get(earned)
        if lines is None:
            if len(self._lines) >= LINES_REMEMBERED:
                self._lines.popitem(last=False)  # the oldest
            lines = self._lines[earned] = _Lines(self._c, axes)
        projection = _Projection(self._c, values, lines)
        if len(self._projections) >= PROJECTIONS_REMEMBERED:
            self._projections.popitem(last=False)  # the oldest
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
                    line = _decay_line(silent, decayed)
                    text = fixed.text_with(line)
                    json = _json(fixed, [line]) if self._points else ""
                else:
                    text, json = fixed.plain(), fixed.json() + "]" if self._points else ""
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
            return self._assessed(lead)
        fixed = p.rounded.get(ups) or p.rounded_up(ups)
        extras: list[tuple[str, int, str]] = []
        if lost > 0 and wholes[0]:
            extras.append(_decay_line(silent, wholes[0]))
        if combined != kept and wholes[-1]:
            edge = "capped at 100" if combined > 100 else "floored at 0"
            extras.append(_line("cap", f"Score {edge}", wholes[-1]))
        text = fixed.text(extras)
        if p.confirm and temperature is Temperature.WARM:
            text = f"{text}; {p.confirm}" if text else p.confirm
        if len(text) > REASONS_MAX_CHARS:
            text = text[: REASONS_MAX_CHARS - 1] + "…"
        json = _json(fixed, extras) if self._points else ""
        return Verdict._make((score, p.fit, engagement, temperature, stage, text, json))


def _decay_line(silent: int, points: int) -> tuple[str, int, str]:
    """The decay line as _line makes it, written out directly: its label is plain ASCII (no JSON escapes)."""
    label = decay_label(silent)
    return (
        f"{label} ({_SIGNED.get(points) or signed(points)})",
        points,
        f'{{"axis": "decay", "label": "{label}", "points": {points}}}',
    )


def _line(axis: str, label: str, points: int) -> tuple[str, int, str]:
    """A moving line as reasons_text shows it, its points, and as points_json writes it."""
    return f"{label} ({signed(points)})", points, points_json([Reason(axis, label, float(points))])[1:-1]


def _json(fixed: _Rounded, extras: list[tuple[str, int, str]]) -> str:
    if not extras:
        return fixed.json() + "]"
    items = ", ".join([e[2] for e in extras])
    return f"{fixed.json()}, {items}]" if fixed.count else f"{fixed.json()}{items}]"


_STAGE_READS = (_WON_DEAL, _OPEN_DEAL, _CONVERTED, _CONTACT_DATA, _LIFECYCLE)
