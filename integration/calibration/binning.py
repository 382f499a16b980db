"""Each attribute cut into bins a lead falls in exactly one of: values, ranges, zero and missing each apart.

A bin is what one rule will test, so its condition is written the scorer's way: `at_least` inclusive,
`below` exclusive, `present: false` for a value the record does not have; a date's age range as `days_ago`.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from integration.calibration.features import fires, learnable, nice, number_label
from integration.domain.model import Lead
from integration.domain.scoring import decay_factor
from mappings.catalogue import Attribute
from mappings.schema import Rule, ScoringRules

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Codes = npt.NDArray[np.int64]

MIN_ROWS = 20  # a bin needs at least this many training leads...
MIN_SHARE = 0.01  # ...and this share of them: no rule fires for fewer (its points would be noise)
FINE_BINS = 16  # numbers are first cut this fine; `refine` keeps finer cuts only where they pay on held-out data
IN_LIST_LIMIT = 100  # a decaying counter's range is written as `in: [...]` (engagement cannot use `below`)
_DAY = 86400.0


@dataclass(frozen=True)
class Bin:
    """One value, range or missing: its label (after "Attribute: ") and the rule condition that tests it."""

    text: str
    condition: dict[str, Any] | None  # None: "other values", the attribute's reference, never a rule
    kind: str  # value, other, missing, zero, range, fires, quiet
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Term:
    """One attribute's bins and which bin each lead falls in (`codes`, over the whole history)."""

    name: str
    label: str
    kind: str  # category, number, age, class
    bins: list[Bin]
    codes: Codes
    reference: int  # the bin at 0 points, against which the others are read
    decays: bool = False
    integer: bool = False
    rule: Rule | None = None  # a class from the admin's own rules (free-mail), tested as written
    cuts: list[float] = field(default_factory=list)  # a number's inner cut points, lowest first

    @property
    def size(self) -> int:
        return len(self.bins)

    def label_of(self, index: int) -> str:
        found = self.bins[index]
        if found.kind in ("fires", "quiet"):
            return found.text
        return f"{self.label}: {found.text}"


def least(train: int) -> int:
    """The fewest training leads a bin (and so a rule) may hold."""
    return max(MIN_ROWS, math.ceil(MIN_SHARE * train))


def _floor_nice(value: float) -> float:
    """A lower edge as a person writes it, never above `value`: 0.37 -> 0.3, 37 -> 30, 3 -> 3."""
    if value <= 0:
        return value
    if value < 100 and float(value).is_integer():
        return float(value)
    step = 10.0 ** math.floor(math.log10(value))
    return float(math.floor(value / step) * step)


def _number_text(low: float | None, high: float | None, integer: bool) -> str:
    """`under 3`, `3 to 6` (whole numbers: both ends included), `3 to under 7`, `7 or more`."""
    if low is None and high is None:
        return "any value"
    if low is None:
        assert high is not None
        return f"under {number_label(high)}"
    if high is None:
        return f"{number_label(low)} or more"
    if integer and float(low).is_integer() and float(high).is_integer():
        last = high - 1
        return f"{number_label(low)}" if last == low else f"{number_label(low)} to {number_label(last)}"
    return f"{number_label(low)} to under {number_label(high)}"


def _age_text(low: float | None, high: float | None) -> str:
    """`under 7 days ago`, `7 to 30 days ago` (30 itself not included), `90 days ago or more`."""
    if low is None and high is None:
        return "any date"
    if low is None:
        assert high is not None
        return f"under {number_label(high)} days ago"
    if high is None:
        return f"{number_label(low)} days ago or more"
    return f"{number_label(low)} to {number_label(high)} days ago"


def _range_condition(low: float | None, high: float | None, age: bool = False) -> dict[str, Any]:
    condition: dict[str, Any] = {}
    if low is not None:
        condition["at_least"] = low
    if high is not None:
        condition["below"] = high
    if not condition:
        return {"present": True}
    # An age is the date's days before the moment the lead is assessed: the scorer reads it as `days_ago`.
    return {"days_ago": condition} if age else condition


def _edges(values: Sequence[float], low: float | None, bins: int, enough: int) -> list[float]:
    """Cut points at quantiles (rounded as a person writes them), each bin holding `enough` training values."""
    ordered = sorted(values)
    if not ordered:
        return []
    picks = sorted({nice(ordered[len(ordered) * q // bins]) + 0.0 for q in range(1, bins)})  # + 0.0: never -0
    floor = ordered[0] if low is None else low
    kept: list[float] = []
    start = 0
    for edge in picks:
        if edge <= floor or (kept and edge <= kept[-1]):
            continue
        at = bisect.bisect_left(ordered, edge)
        if at - start >= enough and len(ordered) - at >= enough:
            kept.append(edge)
            start = at
    return kept


def _number_term(attribute: Attribute, raw: list[float | None], train: Sequence[int], age: bool = False) -> Term | None:
    import numpy as np

    enough = least(len(train))
    values = np.array([math.nan if v is None else float(v) for v in raw])
    counter = attribute.calibrate == "counter"
    if counter:  # a behaviour count with nothing recorded is no events
        values = np.where(np.isnan(values), 0.0, values)
    seen = values[list(train)]
    present = seen[~np.isnan(seen)]
    integer = not age and bool(np.all(np.equal(np.mod(present, 1), 0)))
    bins: list[Bin] = []
    missing = int(np.isnan(seen).sum())
    zeros = int((present == 0).sum())
    zero_apart = zeros >= enough and not age
    rest = present[present != 0] if zero_apart else present
    positive = rest[rest > 0] if zero_apart else rest
    negative = rest[rest < 0] if zero_apart else rest[:0]
    if missing >= enough:
        bins.append(Bin("not recorded", {"present": False}, "missing"))
    if negative.size >= enough:
        bins.append(Bin("under 0", {"below": 0.0}, "range", None, 0.0))
    if zero_apart:
        zero = {"is": 0} if integer and attribute.kind == "integer" else {"at_least": 0.0, "below": _tiny(present)}
        bins.append(Bin("0", zero, "zero", 0.0, zero.get("below")))
    low = _floor_nice(float(positive.min())) if zero_apart and positive.size else None
    cuts = _edges(positive.tolist(), low, FINE_BINS, enough) if positive.size >= enough else []
    if attribute.decays:
        # Engagement rules cannot use `below`: a whole-number range is written as an `in` list, so keep those
        # short; a decaying fraction keeps only "more than 0".
        cuts = _short_middles(cuts, low) if integer and attribute.kind == "integer" else []
    if positive.size >= enough or not zero_apart:
        bounds = [low, *cuts]
        highs: list[float | None] = [*cuts, None]
        for lo, hi in zip(bounds, highs, strict=True):
            text = _age_text(lo, hi) if age else _number_text(lo, hi, integer)
            bins.append(Bin(text, _range_condition(lo, hi, age), "range", lo, hi))
    if zero_apart and bins[-1].kind == "zero":  # only zeros and too few of anything else: a flag "more than 0"
        bins.append(Bin("more than 0", {"at_least": _tiny(present)}, "range", _tiny(present), None))
    if len(bins) < 2:
        return None
    codes = _assign(values, bins)
    counts = np.bincount(codes[list(train)][codes[list(train)] >= 0], minlength=len(bins))
    if (counts < enough).any():  # bins are cut to hold enough; a thin one means the attribute barely varies
        return None
    reference = _reference(bins, counts, attribute.decays)
    if reference is None:
        return None
    codes = np.where(codes < 0, reference, codes)
    kind = "age" if age else "number"
    return Term(attribute.name, attribute.label, kind, bins, codes, reference, attribute.decays, integer, cuts=cuts)


def _tiny(present: Any) -> float:
    """The smallest positive value, rounded down: where `more than 0` starts for a number."""
    positive = present[present > 0]
    return _floor_nice(float(positive.min())) if positive.size else 1.0


def _short_middles(cuts: list[float], low: float | None) -> list[float]:
    """Cut points whose middle ranges span at most `IN_LIST_LIMIT` whole numbers."""
    kept: list[float] = []
    start = low if low is not None else 0.0
    for cut in cuts:
        if cut - start > IN_LIST_LIMIT:
            break
        kept.append(cut)
        start = cut
    return kept


def _assign(values: Any, bins: Sequence[Bin]) -> Codes:
    """Which bin each value falls in; -1 for a value no bin holds (it is read as the reference)."""
    import numpy as np

    codes = np.full(values.shape[0], -1, dtype=np.int64)
    nan = np.isnan(values)
    for index, found in enumerate(bins):
        if found.kind == "missing":
            hit = nan
        elif found.kind == "zero":
            hit = values == 0 if found.high is None else (values >= 0) & (values < found.high)
        else:
            low = -math.inf if found.low is None else found.low
            high = math.inf if found.high is None else found.high
            hit = ~nan & (values >= low) & (values < high)
            for zero in (b for b in bins if b.kind == "zero"):
                hit &= ~(values == 0) if zero.high is None else ~((values >= 0) & (values < zero.high))
        codes = np.where((codes < 0) & hit, index, codes)
    return codes


def _reference(bins: Sequence[Bin], counts: Any, decays: bool) -> int | None:
    """The bin read as 0 points: no events for behaviour, other values for a category, else the most common."""
    for kind in (("zero", "missing") if decays else ()) + ("other",):
        for index, found in enumerate(bins):
            if found.kind == kind:
                return index
    if decays:  # behaviour counted from its lowest range up
        return next(i for i, b in enumerate(bins) if b.kind == "range")
    # Missing and zero are read against a value, never the other way round: their points are always stated.
    ranges = [i for i, b in enumerate(bins) if b.kind == "range"]
    return max(ranges, key=lambda i: int(counts[i])) if ranges else int(counts.argmax())


def _category_term(attribute: Attribute, raw: list[Any], train: Sequence[int]) -> Term | None:
    import numpy as np

    enough = least(len(train))
    keys = [None if v is None or v == "" else (v.casefold() if isinstance(v, str) else v) for v in raw]
    spellings = Counter(str(raw[i]) for i in train if keys[i] is not None and isinstance(raw[i], str))
    shown = {s.casefold(): s for s, _ in sorted(spellings.items(), key=lambda x: (x[1], x[0]))}
    counts = Counter(keys[i] for i in train)
    bins: list[Bin] = []
    index: dict[Any, int] = {}
    for value, n in sorted(counts.items(), key=lambda x: (-x[1], str(x[0]))):
        if value is None or n < enough:
            continue
        index[value] = len(bins)
        bins.append(Bin(_value_text(attribute, value, shown), {"is": value}, "value"))
    missing = counts.get(None, 0)
    if missing >= enough:
        index[None] = len(bins)
        bins.append(Bin("not recorded", {"present": False}, "missing"))
    others = sum(n for v, n in counts.items() if v not in index)
    other = -1
    if others >= enough:
        other = len(bins)
        bins.append(Bin("other values", None, "other"))
    if len(bins) < 2:
        return None
    counted = np.bincount(
        [index.get(keys[i], other) for i in train if keys[i] in index or other >= 0], minlength=len(bins)
    )
    stated = [i for i, b in enumerate(bins) if b.kind == "value"] or list(range(len(bins)))
    reference = other if other >= 0 else max(stated, key=lambda i: int(counted[i]))
    for wanted, kinds in ((False, ("flag",)), (None, ("answer",))):
        if attribute.calibrate in kinds and wanted in index:  # not flagged, not yet known: the natural zero
            reference = index[wanted]
    codes = np.array([index.get(k, other if other >= 0 else reference) for k in keys], dtype=np.int64)
    if attribute.kind == "boolean":
        bins = [_boolean_bin(attribute, b) for b in bins]
    return Term(attribute.name, attribute.label, "category", bins, codes, reference, attribute.decays)


def _value_text(attribute: Attribute, value: Any, shown: dict[str, str]) -> str:
    if isinstance(value, str):
        return shown.get(value, value)
    return str(value)


def _boolean_bin(attribute: Attribute, found: Bin) -> Bin:
    """Yes/no bins read as a sentence: `E-mail bounced`, `Need confirmed`, `Need ruled out`."""
    if found.condition is None or "is" not in found.condition:
        return found
    value = found.condition["is"]
    if attribute.calibrate == "answer":
        return replace(found, text=f"{attribute.label} {'confirmed' if value else 'ruled out'}", kind="fires")
    if not value:  # not flagged, false or unknown alike: the reference, which no rule (nor pair) states
        return replace(
            found, text=f"Not {attribute.label[:1].lower()}{attribute.label[1:]}", condition=None, kind="quiet"
        )
    return replace(found, text=attribute.label, kind="fires")


def _class_term(rule: Rule, leads: Sequence[Lead], as_of: Sequence[datetime], train: Sequence[int]) -> Term | None:
    """One of the admin's own rules on an attribute calibrate does not cut itself (free-mail domains)."""
    import numpy as np

    hits = fires(leads, rule, as_of)
    count = int(hits[list(train)].sum())
    if count < least(len(train)) or len(train) - count < least(len(train)):
        return None
    bins = [
        Bin(f"not {rule.label}", None, "quiet"),
        Bin(rule.label, rule.model_dump(by_alias=True, exclude_none=True), "fires"),
    ]
    return Term(rule.attribute or "", rule.label, "class", bins, hits.astype(np.int64), 0, rule=rule)


def terms(
    leads: Sequence[Lead],
    as_of: Sequence[datetime],
    current: ScoringRules,
    attributes: Sequence[Attribute],
    train: Sequence[int],
    leave_out: Collection[str] = (),
) -> list[Term]:
    """Every attribute the mapping fills, cut into bins on the training leads (the holdout never shapes a bin)."""
    found: list[Term | None] = []
    used = [a for a in attributes if a.name not in leave_out]
    rows = [lead.values for lead in leads]
    for attribute in [*learnable(used, "category"), *learnable(used, "answer"), *learnable(used, "flag")]:
        name = attribute.name
        raw = [row.get(name) is True for row in rows] if attribute.calibrate == "flag" else [r.get(name) for r in rows]
        found.append(_category_term(attribute, raw, train))
    for attribute in [*learnable(used, "counter"), *learnable(used, "range")]:
        name = attribute.name
        numbers = [v if (v := row.get(name)).__class__ in (int, float) else _number(v) for row in rows]
        found.append(_number_term(attribute, numbers, train))
    for attribute in used:
        if attribute.custom and attribute.kind == "datetime":
            ages = [_age(row.get(attribute.name), moment) for row, moment in zip(rows, as_of, strict=True)]
            found.append(_number_term(attribute, ages, train, age=True))
    covered = {a.name for a in attributes if a.calibrate != "none"}
    in_use = {a.name for a in used}
    seen: set[str] = set()
    for rule in [*current.fit, *current.engagement, *current.penalties]:
        if rule.attribute in covered or rule.attribute not in in_use or rule.each is not None or rule.label in seen:
            continue
        seen.add(rule.label)
        found.append(_class_term(rule.model_copy(update={"points": 0.0}), leads, as_of, train))
    return [t for t in found if t is not None]


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _age(value: Any, moment: datetime) -> float | None:
    """Whole days from a date to the lead's as-of moment (negative ages, dates after it, count as 0)."""
    if not isinstance(value, datetime):
        return None
    return max(0.0, float(math.floor(_days(moment, value))))


def _days(later: datetime, earlier: datetime) -> float:
    if (later.tzinfo is None) != (earlier.tzinfo is None):
        later, earlier = later.replace(tzinfo=None), earlier.replace(tzinfo=None)
    return (later - earlier).total_seconds() / _DAY


def decay_factors(leads: Sequence[Lead], as_of: Sequence[datetime], current: ScoringRules) -> list[float]:
    """The share of engagement each lead keeps as of its moment (the scorer's own formula)."""
    d = current.decay
    return [
        decay_factor(lead.last_engagement_at, moment, d.half_life_days, d.grace_days)
        for lead, moment in zip(leads, as_of, strict=True)
    ]


def coarsen(term: Term, keep: Sequence[float]) -> Term:
    """The same number with only the cut points in `keep`: neighbouring ranges merged into one."""
    import numpy as np

    kept = set(keep)
    merged: list[Bin] = []
    mapping: list[int] = []
    for found in term.bins:
        extend = (
            merged
            and found.kind == "range"
            and merged[-1].kind == "range"
            and found.low is not None
            and found.low not in kept
            and merged[-1].high == found.low
        )
        if extend:
            last = merged[-1]
            age = term.kind == "age"
            merged[-1] = Bin(
                _age_text(last.low, found.high) if age else _number_text(last.low, found.high, term.integer),
                _range_condition(last.low, found.high, age),
                "range",
                last.low,
                found.high,
            )
        else:
            merged.append(found)
        mapping.append(len(merged) - 1)
    table = np.asarray(mapping, dtype=np.int64)
    return replace(
        term,
        bins=merged,
        codes=table[term.codes],
        reference=int(table[term.reference]),
        cuts=[c for c in term.cuts if c in kept],
    )


def merged_bins(term: Term, keep: Sequence[float]) -> list[int]:
    """For each of the term's bins, the bin it becomes once only the cut points in `keep` remain."""
    return [int(i) for i in _table(term, keep)]


def _table(term: Term, keep: Sequence[float]) -> list[int]:
    kept = set(keep)
    out: list[int] = []
    position = -1
    previous: Bin | None = None
    for found in term.bins:
        joins = (
            previous is not None
            and found.kind == "range"
            and previous.kind == "range"
            and found.low is not None
            and found.low not in kept
            and previous.high == found.low
        )
        if not joins:
            position += 1
        out.append(position)
        previous = found
    return out
