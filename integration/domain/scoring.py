"""Pure lead assessment: (Lead, rules, now) -> Assessment. No I/O, no clock of its own.

The score combines two axes (the fit/interest matrix): fit from who the lead is,
engagement from what they did, the latter decaying exponentially with silence.
Penalties (negative evidence) subtract from the combined score and do not decay.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from integration.domain.grid import grid_cell
from integration.domain.model import Assessment, Lead, Reason, Stage, Temperature
from mappings.catalogue import the_one
from mappings.grammar import ENGAGEMENT, FIT, SECTIONS
from mappings.patterns import compile_pattern
from mappings.schema import Condition, Rule, ScoringRules

_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_MICROS_PER_SECOND = 1_000_000
_DAY_SECONDS = 86400.0
_SETTLE_STEPS = 1000

Fire = Callable[[Any], Reason | None]
# A `days_ago` rule reads the attribute's date and the assessment moment (POSIX seconds).
AgedFire = Callable[[Any, float], Reason | None]
# A compound rule reads several attributes: it takes the lead's values (and the moment) and returns its Reason or None.
FireOnValues = Callable[[Mapping[str, Any], float], Reason | None]
_AXES = tuple(section.label for section in SECTIONS)  # a reason names its axis by the singular: "penalty"
_AXIS_INDEX = {axis: i for i, axis in enumerate(_AXES)}
# The attributes the core reads beyond the rules, by the role the catalogue gives them.
_LAST_ENGAGEMENT = the_one("last_engagement")
_LIFECYCLE = the_one("lifecycle")
_WON_DEAL = the_one("won_deal")
_OPEN_DEAL = the_one("open_deal")
_CONVERTED = the_one("converted")
_CONTACT_DATA = the_one("contact_data")


@dataclass(frozen=True, slots=True)
class _AttributeRules:
    """Every rule on one attribute: read the attribute once, look equality rules up in a dict."""

    attribute: str
    exact: dict[Any, tuple[Reason, ...]]  # value (casefolded text) -> the reasons it earns
    general: tuple[Fire, ...]  # the other rules, each returning its Reason or None
    fires_on_none: bool


@dataclass(frozen=True, slots=True)
class _Compiled:
    groups: tuple[_AttributeRules, ...]
    # Per rule group: its attribute, what values earned by value class (see _outcome_memos), the
    # group itself (for values not remembered), and what None earns.
    plan: tuple[tuple[str, dict[type, dict[Any, tuple[Reason, ...]]], _AttributeRules, tuple[Reason, ...]], ...]
    # `days_ago` rules apart, by attribute: the common path never reads the clock's moment.
    aged: tuple[tuple[str, tuple[AgedFire, ...]], ...]
    compounds: tuple[FireOnValues, ...]
    timed: bool  # some rule tests a date's age: the moment is needed
    # Each `days_ago` condition's attribute and edges in seconds: where a rule starts or stops firing.
    edges: tuple[tuple[str, tuple[float, ...]], ...]
    fit_weight: float
    engagement_weight: float
    half_life_days: float
    grace_days: float
    bands: tuple[int, int, int]  # cool, warm, hot
    floors: dict[Temperature, int]
    starting_points: float
    required: tuple[str, ...]
    mql_score: int
    next_actions: dict[Temperature, str]


def _exact_keys(rule: Rule | Condition) -> list[Any] | None:
    """The attribute values an equality rule matches, when a dict lookup can stand for it.

    Kinds were checked at load (a text attribute holds str, a boolean one bool), so the rule's own
    values say which lookup applies, for built-ins and the admin's attributes alike.
    """
    values = [rule.is_] if rule.is_ is not None else rule.in_
    if values is None:
        return None
    if all(isinstance(v, str) for v in values):
        return [str(v).casefold() for v in values]
    if all(isinstance(v, bool) for v in values):
        return list(values)
    return None


def _condition(rule: Rule | Condition) -> Callable[[Any], bool]:
    """The rule's test on one attribute value; None never matches a value condition."""
    if rule.present is not None:
        wanted = rule.present
        return lambda v: (v is not None and v != "") == wanted
    if rule.is_ is not None or rule.in_ is not None:
        options = [rule.is_] if rule.is_ is not None else list(rule.in_ or [])
        return lambda v: v is not None and any(v == o and type(v) is type(o) for o in options)
    if rule.matches is not None:
        search = compile_pattern(rule.matches).search  # RE2 on bounded text: no value can hang a match
        return lambda v: v is not None and search(str(v))
    low = -math.inf if rule.at_least is None else rule.at_least
    high = math.inf if rule.below is None else rule.below
    return lambda v: v is not None and low <= v < high


def _aged(rule: Rule | Condition) -> Callable[[Any, float], bool]:
    """A `days_ago` test on a date and the assessment moment (POSIX seconds); a missing date never matches."""
    assert rule.days_ago is not None
    low = -math.inf if rule.days_ago.at_least is None else rule.days_ago.at_least * _DAY_SECONDS
    high = math.inf if rule.days_ago.below is None else rule.days_ago.below * _DAY_SECONDS

    def test(value: Any, moment: float) -> bool:
        if not isinstance(value, datetime):
            return False
        return low <= moment - _utc(value).timestamp() < high

    return test


def _aged_fire(axis: str, rule: Rule) -> AgedFire:
    test = _aged(rule)
    reason = Reason(axis, rule.label, rule.points)
    return lambda value, moment: reason if test(value, moment) else None


def _fire(axis: str, rule: Rule) -> Fire:
    if rule.each is not None:
        each, points, cap, label = rule.each, rule.points, rule.max_points, rule.label
        made: dict[float, Reason] = {}  # few distinct point values: build each Reason once

        def per_unit(value: Any) -> Reason | None:
            if not value:
                return None
            earned = float(math.floor(value / each) * points)
            if cap is not None and earned > cap:
                earned = cap
            if not earned:
                return None
            reason = made.get(earned)
            if reason is None:
                reason = made[earned] = Reason(axis, label, earned)
            return reason

        return per_unit
    test = _condition(rule)
    reason = Reason(axis, rule.label, rule.points)
    return lambda value: reason if test(value) else None


def _holds(condition: Rule | Condition) -> Callable[[Any], bool]:
    """One condition's test, deciding as a single rule does (equality through the same casefolded lookup)."""
    keys = _exact_keys(condition)
    if keys is None:
        return _condition(condition)
    wanted = frozenset(keys)
    return lambda v: v is not None and (v.casefold() if v.__class__ is str else v) in wanted


def _compound(axis: str, rule: Rule) -> FireOnValues:
    """A rule that earns its points once when every one of its conditions holds (each tested as a single rule's)."""
    tests = tuple((c.attribute, _holds(c)) for c in rule.conditions if c.attribute is not None and c.days_ago is None)
    aged = tuple((c.attribute, _aged(c)) for c in rule.conditions if c.attribute is not None and c.days_ago is not None)
    reason = Reason(axis, rule.label, rule.points)

    def every(values: Mapping[str, Any], moment: float) -> Reason | None:
        for attribute, test in tests:
            if not test(values.get(attribute)):
                return None
        for attribute, dated in aged:
            if not dated(values.get(attribute), moment):
                return None
        return reason

    return every


def _group(attribute: str, rules: list[tuple[str, Rule]]) -> _AttributeRules:
    exact: dict[Any, list[Reason]] = {}
    general: list[Fire] = []
    for axis, rule in rules:
        keys = _exact_keys(rule)
        if keys is None:
            general.append(_fire(axis, rule))
            continue
        for key in dict.fromkeys(keys):
            exact.setdefault(key, []).append(Reason(axis, rule.label, rule.points))
    return _AttributeRules(
        attribute,
        {k: tuple(v) for k, v in exact.items()},
        tuple(general),
        fires_on_none=any(r.present is False for _, r in rules),
    )


def _fires(group: _AttributeRules, value: Any, reasons: list[Reason]) -> None:
    """Append the reasons one attribute value earns under a group of rules (the hot path of `assess`)."""
    if value is None and not group.fires_on_none:
        return
    if group.exact:
        hit = group.exact.get(value.casefold() if value.__class__ is str else value)
        if hit:
            reasons.extend(hit)
    for fire in group.general:
        reason = fire(value)
        if reason is not None:
            reasons.append(reason)


# What one attribute value earns under its group is a pure function of the value: remembered per
# group and per value class (True, 1 and 1.0 are equal dict keys but need not earn the same), for
# the classes whose values repeat across leads (choices, flags, counts). Floats are left out (0.0
# and -0.0 are equal keys yet print differently for a `matches` rule), and so are dates (distinct).
_OUTCOME_CLASSES = (str, int, bool)
_OUTCOMES_REMEMBERED = 1024  # values per class and group; past it the memo starts over


def _outcome_memos() -> dict[type, dict[Any, tuple[Reason, ...]]]:
    return {cls: {} for cls in _OUTCOME_CLASSES}


def _earned(group: _AttributeRules, value: Any) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    _fires(group, value, reasons)
    return tuple(reasons)


def _earn(group: _AttributeRules, memo: dict[Any, tuple[Reason, ...]], value: Any) -> tuple[Reason, ...]:
    """What `value` earns under `group`, computed and remembered (the memo's miss path)."""
    if len(memo) >= _OUTCOMES_REMEMBERED:
        memo.clear()
    earned = memo[value] = _earned(group, value)
    return earned


K = TypeVar("K")
V = TypeVar("V")


def _memo(cache: dict[int, tuple[K, V]], key: K, build: Callable[[K], V], bound: int) -> V:
    """What `build` makes of an immutable object, once per object: keyed by identity, kept alive here."""
    hit = cache.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    if len(cache) >= bound:
        cache.clear()
    made = build(key)
    cache[id(key)] = (key, made)
    return made


_ONE_RULE: dict[int, tuple[Rule, _AttributeRules]] = {}
_ONE_AGED: dict[int, tuple[Rule, AgedFire]] = {}


def _moment(rule: Rule, now: datetime | None) -> float:
    """The assessment moment a rule testing a date's age needs, as POSIX seconds (0 when it tests none)."""
    if now is not None:
        return _utc(now).timestamp()
    if any(c.days_ago is not None for c in rule.conditions):
        raise ValueError(f"rule {rule.label!r} tests a date's age (days_ago): give the assessment moment `now`")
    return 0.0


def rule_matches(rule: Rule, value: Any, now: datetime | None = None) -> bool:
    """Whether a single rule earns points for an attribute value, exactly as `assess` decides (calibration uses it).

    A compound rule tests several attributes: use `rule_holds` with the lead's values. A `days_ago` rule
    needs `now`, the moment the lead is assessed at.
    """
    if rule.all_ is not None:
        raise ValueError(f"rule {rule.label!r} is compound: use rule_holds with the lead's values")
    if rule.days_ago is not None:
        fire = _memo(_ONE_AGED, rule, lambda r: _aged_fire("fit", r), 4096)
        return fire(value, _moment(rule, now)) is not None
    group = _memo(_ONE_RULE, rule, lambda r: _group(r.attribute or "", [("fit", r)]), 4096)
    reasons: list[Reason] = []
    _fires(group, value, reasons)
    return bool(reasons)


_ONE_COMPOUND: dict[int, tuple[Rule, FireOnValues]] = {}


def rule_holds(rule: Rule, values: Mapping[str, Any], now: datetime | None = None) -> bool:
    """Whether a rule, single or compound, earns points for a lead's values, exactly as `assess` decides at `now`."""
    if rule.all_ is None:
        return rule_matches(rule, values.get(rule.attribute or ""), now)
    every = _memo(_ONE_COMPOUND, rule, lambda r: _compound("fit", r), 4096)
    return every(values, _moment(rule, now)) is not None


_SEGMENTS: dict[int, tuple[tuple[Condition, ...], Callable[[Mapping[str, Any], float], bool]]] = {}


def _segment_test(segment: tuple[Condition, ...]) -> Callable[[Mapping[str, Any], float], bool]:
    tests = tuple((c.attribute, _holds(c)) for c in segment if c.days_ago is None)
    aged = tuple((c.attribute, _aged(c)) for c in segment if c.days_ago is not None)

    def holds(values: Mapping[str, Any], moment: float) -> bool:
        return all(test(values.get(a)) for a, test in tests) and all(dated(values.get(a), moment) for a, dated in aged)

    return holds


def segment_holds(segment: tuple[Condition, ...], values: Mapping[str, Any], now: datetime) -> bool:
    """Whether a record is in a named score's segment: every condition holds, tested as a compound rule's are."""
    holds = _memo(_SEGMENTS, segment, _segment_test, 256)
    return holds(values, _utc(now).timestamp())


def decay_factor(last: datetime | None, now: datetime, half_life_days: float, grace_days: float) -> float:
    """The share of engagement left after the silence since `last`: 1 within the grace period, then halving."""
    if last is None:
        return 1.0
    silent_days = (_utc(now) - _utc(last)).total_seconds() / _DAY_SECONDS
    return float(0.5 ** (max(0.0, silent_days - grace_days) / half_life_days))


def temperature_of(score: int, qualified: bool, cool: int, warm: int, hot: int) -> Temperature:
    """The band of a score; hot also needs every qualification criterion confirmed."""
    if score >= hot and qualified:
        return Temperature.HOT
    if score >= warm:
        return Temperature.WARM
    return Temperature.COOL if score >= cool else Temperature.COLD


def _compile(rules: ScoringRules) -> _Compiled:
    by_attribute: dict[str, list[tuple[str, Rule]]] = {}
    aged: dict[str, list[AgedFire]] = {}
    compounds: list[FireOnValues] = []
    edges: dict[str, set[float]] = {}
    for section in SECTIONS:
        axis = section.label
        group: list[Rule] = getattr(rules, section.key)
        for rule in group:
            for condition in rule.conditions:
                if condition.days_ago is not None and condition.attribute is not None:
                    bounds = (condition.days_ago.at_least, condition.days_ago.below)
                    edges.setdefault(condition.attribute, set()).update(
                        b * _DAY_SECONDS for b in bounds if b is not None
                    )
            if rule.attribute is None:
                compounds.append(_compound(axis, rule))
            elif rule.days_ago is not None:
                aged.setdefault(rule.attribute, []).append(_aged_fire(axis, rule))
            else:
                by_attribute.setdefault(rule.attribute, []).append((axis, rule))
    t = rules.temperature
    thresholds = ((Temperature.HOT, t.hot), (Temperature.WARM, t.warm), (Temperature.COOL, t.cool))
    groups = tuple(_group(a, r) for a, r in by_attribute.items())
    return _Compiled(
        groups=groups,
        plan=tuple((g.attribute, _outcome_memos(), g, _earned(g, None)) for g in groups),
        aged=tuple((a, tuple(f)) for a, f in aged.items()),
        compounds=tuple(compounds),
        timed=bool(edges),
        edges=tuple((a, tuple(sorted(e))) for a, e in edges.items()),
        fit_weight=rules.weights.fit,
        engagement_weight=rules.weights.engagement,
        half_life_days=rules.decay.half_life_days,
        grace_days=rules.decay.grace_days,
        bands=(t.cool, t.warm, t.hot),
        floors=dict(thresholds),
        starting_points=float(rules.starting_points),
        required=tuple(rules.qualification.required),
        mql_score=rules.stage.mql_score,
        next_actions={Temperature(k): v for k, v in rules.next_actions.model_dump().items()},
    )


# Rules objects are immutable; compile each once. Bounded, keyed by identity (kept alive here).
_CACHE: dict[int, tuple[ScoringRules, _Compiled]] = {}


def _compiled(rules: ScoringRules) -> _Compiled:
    return _memo(_CACHE, rules, _compile, 64)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _decay_factor(c: _Compiled, last: datetime | None, now: datetime) -> float:
    return decay_factor(last, now, c.half_life_days, c.grace_days)


def _clamp(value: float) -> float:
    return 0.0 if value < 0.0 else 100.0 if value > 100.0 else value


def _round(value: float) -> int:
    # Half up, not Python's half-to-even, so the band edges are predictable for admins.
    return math.floor(value + 0.5)


def _temperature(c: _Compiled, score: int, qualified: bool) -> Temperature:
    return temperature_of(score, qualified, *c.bands)


def _stage(c: _Compiled, values: Mapping[str, Any], score: int, qualified: bool) -> Stage:
    evidence = Stage.SUSPECT
    if values.get(_WON_DEAL):
        evidence = Stage.CUSTOMER
    elif values.get(_OPEN_DEAL) or values.get(_CONVERTED):
        evidence = Stage.OPPORTUNITY
    elif qualified:
        evidence = Stage.SQL
    elif score >= c.mql_score:
        evidence = Stage.MQL
    elif values.get(_CONTACT_DATA):
        evidence = Stage.LEAD
    # The CRM's own lifecycle never moves backwards because of us.
    lifecycle: Stage | None = values.get(_LIFECYCLE)
    if lifecycle is not None and lifecycle.rank > evidence.rank:
        return lifecycle
    return evidence


@dataclass(frozen=True, slots=True)
class _Axes:
    fit: float
    engagement_full: float  # before decay, clamped to 0-100
    penalties: float
    reasons: list[Reason]
    # The axes' sums before they were held between 0 and 100 (what a cap line takes away).
    fit_total: float
    engagement_total: float


def _axes(c: _Compiled, lead: Lead, moment: float) -> _Axes:
    """The lead's points on each axis; `moment` (POSIX seconds) is when dates' ages are read."""
    totals = [c.starting_points, 0.0, 0.0]
    reasons: list[Reason] = []
    values = lead.values
    get = values.get
    for attribute, memos, group, if_none in c.plan:
        value = get(attribute)
        if value is None:  # the commonest value of most attributes: what it earns is known at compile time
            if if_none:
                reasons += if_none
            continue
        memo = memos.get(value.__class__)
        if memo is None:
            _fires(group, value, reasons)
            continue
        earned = memo.get(value)
        if earned is None:
            earned = _earn(group, memo, value)
        if earned:
            reasons += earned
    for attribute, fires in c.aged:
        value = values.get(attribute)
        for fire in fires:
            if (reason := fire(value, moment)) is not None:
                reasons.append(reason)
    for compound in c.compounds:
        if (reason := compound(values, moment)) is not None:
            reasons.append(reason)
    for reason in reasons:
        totals[_AXIS_INDEX[reason.axis]] += reason.points
    return _Axes(_clamp(totals[0]), _clamp(totals[1]), totals[2], reasons, totals[0], totals[1])


def _score_lines(
    c: _Compiled, axes: _Axes, factor: float, silent_days: int, score: int
) -> tuple[int, tuple[Reason, ...]]:
    """The starting points and every other line of the formula in final-score points, whole numbers adding up to
    `score` exactly (the starting points are not a reason: no rule earned them).

    score = clamp(fit weight x clamp(start + fit) + engagement weight x clamp(engagement) x decay + penalties),
    so each rule contributes its points times its axis weight, and a cap, the decay or the final clamp that
    changes the sum is a line of its own. Rounding gives the leftover to the largest remainders.
    """
    lines = formula_lines(c, axes, factor, silent_days)
    whole = _largest_remainder([line[3] for line in lines], score)
    start = whole[0] if c.starting_points else 0
    reasons = tuple(
        Reason(axis, label, float(points), on_axis)
        for (axis, label, on_axis, _, always), points in zip(lines, whole, strict=True)
        if (points or always) and axis != "start"
    )
    return start, reasons


# A line of the formula: (axis, label, points on the axis, contribution to the score, kept when it rounds to 0).
Line = tuple[str, str, float | None, float, bool]


def decay_label(silent_days: int | str) -> str:
    """The decay line's label (`silent_days` a placeholder where a text is kept for any number of days)."""
    return f"No activity for {silent_days} days"


def fixed_lines(c: _Compiled, axes: _Axes) -> list[Line]:
    """The lines that do not depend on the moment: the starting points, each rule that fired (always shown)
    and the axes' caps."""
    wf, we = c.fit_weight, c.engagement_weight
    weight = {FIT.label: wf, ENGAGEMENT.label: we}
    lines: list[Line] = []
    if c.starting_points:
        lines.append(("start", "Starting points", c.starting_points, wf * c.starting_points, True))
    for reason in axes.reasons:
        lines.append((reason.axis, reason.label, reason.points, weight.get(reason.axis, 1.0) * reason.points, True))
    for axis, total in ((FIT.label, axes.fit_total), (ENGAGEMENT.label, axes.engagement_total)):
        if total != (kept := _clamp(total)):
            edge = "capped at 100" if total > 100 else "floored at 0"
            lines.append(("cap", f"{axis.capitalize()} {edge}", kept - total, weight[axis] * (kept - total), False))
    return lines


def formula_lines(c: _Compiled, axes: _Axes, factor: float, silent_days: int) -> list[Line]:
    """Every line of the formula before rounding: the fixed ones, the decay and the score's cap when they apply."""
    we = c.engagement_weight
    lines = fixed_lines(c, axes)
    lost = axes.engagement_full * (1.0 - factor)
    if lost > 0:
        lines.append(("decay", decay_label(silent_days), -lost, -we * lost, False))
    combined = _combined(c, axes, factor)
    if combined != (kept := _clamp(combined)):
        edge = "capped at 100" if combined > 100 else "floored at 0"
        lines.append(("cap", f"Score {edge}", None, kept - combined, False))
    return lines


def _largest_remainder(values: list[float], total: int) -> list[int]:
    """Whole numbers as close to `values` as can be while adding up to `total` (Hamilton's method)."""
    floors = [math.floor(v) for v in values]
    short = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: floors[i] - values[i])  # largest remainder first
    for i in order[: max(0, short)]:
        floors[i] += 1
    for i in order[::-1][: max(0, -short)]:  # float error only: take from the smallest remainders
        floors[i] -= 1
    return floors


def _combined(c: _Compiled, axes: _Axes, factor: float) -> float:
    """The weighted axes plus the penalties, before the score is held between 0 and 100."""
    return c.fit_weight * axes.fit + c.engagement_weight * axes.engagement_full * factor + axes.penalties


def _raw_score(c: _Compiled, axes: _Axes, factor: float) -> float:
    return _clamp(_combined(c, axes, factor))


def assess(lead: Lead, rules: ScoringRules, now: datetime) -> Assessment:
    """Score, classify and explain one lead as of `now`."""
    c = _compiled(rules)
    values = lead.values
    last: datetime | None = values.get(_LAST_ENGAGEMENT)
    axes = _axes(c, lead, _utc(now).timestamp() if c.timed else 0.0)
    factor = _decay_factor(c, last, now)
    score = _round(_raw_score(c, axes, factor))
    missing = tuple([name for name in c.required if values.get(name) is not True])
    temperature = _temperature(c, score, not missing)
    silent_days = int((_utc(now) - _utc(last)).total_seconds() // _DAY_SECONDS) if last is not None else 0
    start, reasons = _score_lines(c, axes, factor, silent_days, score)
    fit, engagement = _round(axes.fit), _round(axes.engagement_full * factor)
    return Assessment(
        score=score,
        fit=fit,
        engagement=engagement,
        grid=grid_cell(fit, engagement, rules.grid),
        temperature=temperature,
        stage=_stage(c, values, score, not missing),
        reasons=reasons,
        starting_points=start,
        next_action=c.next_actions[temperature],
        assessed_at=now,
        next_drop_at=_next_change(c, lead, axes, temperature, not missing, now)
        if c.timed
        else _next_drop(c, last, axes, temperature, now),
        missing_for_hot=missing,
    )


def _next_change(
    c: _Compiled, lead: Lead, axes: _Axes, temperature: Temperature, qualified: bool, now: datetime
) -> datetime | None:
    """With `days_ago` rules: the first whole second after `now` at which decay, or a date ageing past a rule's
    edge, changes the temperature (up or down: either is news for the CRM with no event to tell it)."""
    values = lead.values
    last: datetime | None = values.get(_LAST_ENGAGEMENT)
    start = _utc(now).timestamp()
    crossings: set[float] = set()
    for attribute, edges in c.edges:
        value = values.get(attribute)
        if isinstance(value, datetime):
            born = _utc(value).timestamp()
            crossings.update(when for edge in edges if (when := born + edge) > start)
    at = now
    for crossing in sorted(crossings):
        drop = _next_drop(c, last, axes, temperature, at)
        moment = datetime.fromtimestamp(math.ceil(crossing), UTC)
        if drop is not None and drop <= moment:
            return drop
        axes = _axes(c, lead, moment.timestamp())
        score = _round(_raw_score(c, axes, _decay_factor(c, last, moment)))
        if _temperature(c, score, qualified) is not temperature:
            return moment
        at = moment
    return _next_drop(c, last, axes, temperature, at)


def _next_drop(
    c: _Compiled, last: datetime | None, axes: _Axes, temperature: Temperature, now: datetime
) -> datetime | None:
    """The first whole second after `now` at which decay takes the score below the band."""
    decaying = c.engagement_weight * axes.engagement_full
    if temperature is Temperature.COLD or last is None or decaying <= 0:
        return None
    floor_score = c.floors[temperature]
    limit = floor_score - 0.5  # a raw score below this rounds under the band

    base = c.fit_weight * axes.fit + axes.penalties
    ratio = (limit - base) / decaying
    if ratio <= 0:
        return None  # fit alone keeps it in the band, however long the silence
    days = c.grace_days + c.half_life_days * math.log2(1.0 / ratio) if ratio < 1 else c.grace_days
    last_utc, now_utc = _utc(last), _utc(now)
    candidate = last_utc + timedelta(days=days)
    candidate = max(candidate, now_utc).replace(microsecond=0) + _SECOND
    # The closed form is exact up to float rounding; settle on the exact second (a few steps).
    # The steps count in whole microseconds since `last`, the integers timedelta.total_seconds()
    # divides, so each test computes the very float `_raw_score(c, axes, _decay_factor(...))` does.
    fit_part, penalties = c.fit_weight * axes.fit, axes.penalties
    weight, full = c.engagement_weight, axes.engagement_full
    grace, half_life = c.grace_days, c.half_life_days
    since = (candidate - last_utc) // _MICROSECOND
    floor_since = (now_utc - last_utc) // _MICROSECOND

    def below(micros: int) -> bool:
        silent_days = micros / 1_000_000 / _DAY_SECONDS
        factor = float(0.5 ** (max(0.0, silent_days - grace) / half_life))
        return _clamp(fit_part + weight * full * factor + penalties) < limit

    steps = 0
    for _ in range(_SETTLE_STEPS):
        if below(since + steps * _MICROS_PER_SECOND):
            break
        steps += 1
    for _ in range(_SETTLE_STEPS):
        before = since + (steps - 1) * _MICROS_PER_SECOND
        if before <= floor_since or not below(before):
            break
        steps -= 1
    return candidate + timedelta(seconds=steps)
