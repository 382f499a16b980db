"""Warnings about a history: columns that leak the outcome, judged one column at a time, and too little data.

A column leaks when it was filled in after the outcome (a status set on conversion, a rating the rep gives
after the call). Two signs, each measured, never a rare value alone:

- alone, it ranks the held-out leads far better than every other column does together;
- one of its values holds a large share of all conversions at near-certainty.

numpy and scikit-learn are imported inside the functions: `import integration.cli` must stay fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from integration.calibration.statistics import auc
from integration.domain.model import Lead
from mappings.catalogue import NUMERIC_KINDS, Attribute
from mappings.schema import CrmMapping

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Alone, a column ranking held-out leads at least this well...
ALONE_AUC = 0.9
# ...and this far above all the other columns together separates beyond what evidence known before contact does.
BEYOND_OTHERS = 0.10
# A value converting at near-certainty...
NEAR_CERTAIN = 0.9
# ...holding this share of all conversions, with odds this many times the history's, was set by the outcome.
HOLDS_SHARE = 0.25
ODDS_RATIO = 10.0
NEAR_CERTAIN_MIN_LEADS = 5  # fewer leads at 100% is chance, not a sign
# A column sorted by how the contact went: a value converting at 90%+ over 50+ leads holding a tenth of the
# conversions, beside one converting at 3% or less over 50+ leads.
SORTED_SHARE = 0.10
SORTED_MIN_LEADS = 50
NEAR_NEVER = 0.03
SMOOTHING = 20.0  # leads' worth of the base rate in each value's rate: rare values say little alone
NUMBER_BINS = 10
FIT_ROWS = 20_000  # training leads the comparison models fit on, at most (about)
VALUES_SHOWN = 4
MIN_CONVERSIONS = 100
_MISSING = "(empty)"


@dataclass(frozen=True)
class ValueRate:
    """One value of a column over the whole history: how many leads hold it, and how many converted."""

    value: str
    leads: int
    conversions: int

    @property
    def rate(self) -> float:
        return self.conversions / self.leads if self.leads else 0.0

    def __str__(self) -> str:
        return f"{self.value}: {self.conversions} of {self.leads} converted ({self.rate:.1%})"


@dataclass(frozen=True)
class Suspect:
    """A column judged to leak the outcome, with the evidence a person needs to decide."""

    attribute: str
    column: str
    reason: str
    alone_auc: float  # on the holdout, this column alone
    without_auc: float  # every other column together
    with_auc: float  # every column, this one included
    values: tuple[ValueRate, ...]  # the values holding the most conversions
    conversions: int

    def __str__(self) -> str:
        return f"leakage: column {self.column} ({self.attribute}) {self.reason}"

    @property
    def evidence_aucs(self) -> str:
        """The holdout AUCs in one line: this column alone, every other column, every column."""
        return (
            f"holdout AUC of this column alone {self.alone_auc:.3f}, of all other columns together "
            f"{self.without_auc:.3f}, of all columns {self.with_auc:.3f}"
        )


def _column(mapping: CrmMapping | None, attribute: str) -> str:
    found = None if mapping is None else mapping.sources().get(attribute)
    return ", ".join(found.sources) if found is not None else attribute


def _shown(mapping: CrmMapping | None, attribute: str, value: str) -> str:
    """The CRM's own spelling when the mapping's `map` reads it as `value` (Closed - Converted for qualified)."""
    found = None if mapping is None else mapping.sources().get(attribute)
    crm = (
        []
        if found is None or found.map is None
        else [str(k) for k, v in found.map.items() if str(v).casefold() == value]
    )
    return f"{' or '.join(repr(c) for c in crm)} (read as {value!r})" if crm else repr(value)


def learnable(attributes: Sequence[Attribute], also: Sequence[str] = ()) -> list[Attribute]:
    """The attributes calibrate may learn from: those with a way to become rules, and any the rules test."""
    return [a for a in attributes if a.calibrate != "none" or a.role == "lifecycle" or a.name in also]


def _as_float(value: Any) -> float:
    return math.nan if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


def _number(value: Any, as_of: datetime) -> float | None:
    if isinstance(value, datetime):  # a date reads as its age in days, as calibrate learns it
        return (as_of - value).total_seconds() / 86400
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class _Coded:
    """A column as one small integer per lead, and what each integer stands for."""

    codes: npt.NDArray[np.int64]
    labels: list[str]


def _coded(leads: Sequence[Lead], attribute: Attribute, as_of: Sequence[datetime], train: Sequence[int]) -> _Coded:
    """Each lead's value as a code (numbers and dates binned at training quantiles; empty is a value of its own)."""
    import numpy as np

    values = [lead.get(attribute.name) for lead in leads]
    if attribute.kind in NUMERIC_KINDS or attribute.kind == "datetime":
        if attribute.kind == "datetime":
            pairs = zip(values, as_of, strict=True)
            numbers = np.asarray([math.nan if (n := _number(v, at)) is None else n for v, at in pairs], dtype=float)
        else:
            cache: dict[Any, float] = {}
            numbers = np.asarray(
                [cache[v] if v in cache else cache.setdefault(v, _as_float(v)) for v in values], dtype=float
            )
        known = numbers[list(train)]
        known = known[~np.isnan(known)]
        edges = sorted(set(np.quantile(known, np.linspace(0, 1, NUMBER_BINS + 1)[1:-1]).tolist())) if known.size else []
        unit = " days old" if attribute.kind == "datetime" else ""

        def label(i: int) -> str:
            low = f"{edges[i - 1]:g}" if i > 0 else None
            high = f"{edges[i]:g}" if i < len(edges) else None
            if low is None:
                return f"under {high}{unit}" if high else f"any{unit}"
            return f"{low} to {high}{unit}" if high else f"{low}{unit} or more"

        bins = np.searchsorted(np.asarray(edges, dtype=float), numbers, side="right") + 1
        codes = np.where(np.isnan(numbers), 0, bins).astype(np.int64)
        return _Coded(codes, [_MISSING, *(label(i) for i in range(len(edges) + 1))])
    index: dict[str, int] = {_MISSING: 0}
    labels = [_MISSING]
    seen: dict[Any, int] = {}  # raw value -> code: a column holds few distinct values among many leads

    def code_of(value: Any) -> int:
        key = _MISSING if value is None or value == "" else str(value).casefold()
        code = index.get(key)
        if code is None:
            code = index[key] = len(labels)
            labels.append(str(value))  # as the CRM spells it, the first time it is seen
        return code

    found = [seen[v] if v in seen else seen.setdefault(v, code_of(v)) for v in values]
    return _Coded(np.asarray(found, dtype=np.int64), labels)


def _encoded(
    column: _Coded, outcomes: npt.NDArray[np.float64], train: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Each lead's value as the log-odds its training leads converted at, pulled toward the base rate."""
    import numpy as np

    size = len(column.labels)
    base = float(outcomes[train].mean())
    leads = np.bincount(column.codes[train], minlength=size)
    won = np.bincount(column.codes[train], weights=outcomes[train], minlength=size)
    rate = (won + SMOOTHING * base) / (leads + SMOOTHING)
    return np.asarray(np.log(rate / (1 - rate))[column.codes], dtype=float)


def _holdout_auc(
    matrix: npt.NDArray[np.float64], outcomes: Sequence[int], train: Sequence[int], test: Sequence[int]
) -> float:
    """Holdout AUC of a logistic regression over encoded columns (0.5 with none: no columns rank nothing)."""
    from sklearn.linear_model import LogisticRegression

    if matrix.shape[1] == 0:
        return 0.5
    # A sample of the training part is plenty to compare AUCs, and keeps 100,000 leads fast.
    rows = list(train)[:: max(1, len(train) // FIT_ROWS)]
    model = LogisticRegression(max_iter=2000).fit(matrix[rows], [outcomes[i] for i in rows])
    return auc([outcomes[i] for i in test], model.decision_function(matrix[list(test)]))


def _value_rates(column: _Coded, outcomes: npt.NDArray[np.float64]) -> list[ValueRate]:
    """Every value over the whole history with its leads and conversions, most conversions first."""
    import numpy as np

    size = len(column.labels)
    leads = np.bincount(column.codes, minlength=size)
    won = np.bincount(column.codes, weights=outcomes, minlength=size)
    found = [ValueRate(column.labels[c], int(leads[c]), int(won[c])) for c in range(size) if leads[c]]
    return sorted(found, key=lambda v: (-v.conversions, -v.rate, v.value))


def _near_never(values: Sequence[ValueRate]) -> ValueRate | None:
    """A value almost never converting over many leads: the other end of a column sorted by the outcome."""
    low = [v for v in values if v.value != _MISSING and v.leads >= SORTED_MIN_LEADS and v.rate <= NEAR_NEVER]
    return max(low, key=lambda v: v.leads, default=None)


def _near_certain(values: Sequence[ValueRate], conversions: int, leads: int) -> ValueRate | None:
    """A value converting at near-certainty that holds a large share of all conversions, if any.

    When the column also has a value that almost never converts (a rating from "High" to "Worst"), a
    smaller share will do: such a column sorts leads by how the contact went.
    """
    base_odds = conversions / max(1, leads - conversions)
    sorted_by_outcome = _near_never(values) is not None
    for v in values:
        # An empty field is no value set after the outcome (records of another object lack it): it counts in
        # the AUCs, never as the near-certain value.
        if v.value == _MISSING or v.leads < NEAR_CERTAIN_MIN_LEADS or v.rate < NEAR_CERTAIN:
            continue
        enough = v.conversions >= HOLDS_SHARE * conversions or (
            sorted_by_outcome and v.leads >= SORTED_MIN_LEADS and v.conversions >= SORTED_SHARE * conversions
        )
        odds = v.conversions / (v.leads - v.conversions) if v.leads > v.conversions else math.inf
        if enough and odds >= ODDS_RATIO * base_odds:
            return v
    return None


def leakage(
    leads: Sequence[Lead],
    outcomes: Sequence[int],
    attributes: Sequence[Attribute],
    train: Sequence[int],
    test: Sequence[int],
    as_of: Sequence[datetime],
    mapping: CrmMapping | None = None,
) -> list[Suspect]:
    """The columns among `attributes` that leak the outcome, each with its evidence, measured on train/test."""
    import numpy as np

    conversions = sum(outcomes)
    truth_all = np.asarray(outcomes, dtype=float)
    training = np.asarray(train, dtype=np.int64)
    columns: list[tuple[Attribute, _Coded]] = []
    for attribute in attributes:
        coded = _coded(leads, attribute, as_of, train)
        if len(np.unique(coded.codes[training])) > 1:  # a column with one value says nothing, and cannot leak
            columns.append((attribute, coded))
    if not columns:
        return []
    matrix = np.column_stack([_encoded(coded, truth_all, training) for _, coded in columns])
    truth = [outcomes[i] for i in test]
    rates = [_value_rates(coded, truth_all) for _, coded in columns]
    certain = [_near_certain(values, conversions, len(leads)) for values in rates]
    # The other columns are measured without the near-certain ones: a leak among them would make any
    # honest column look weak beside it.
    clean = [j for j, c in enumerate(certain) if c is None]
    found = []
    for j, (attribute, _) in enumerate(columns):
        alone = auc(truth, matrix[list(test), j])
        if alone < ALONE_AUC and certain[j] is None:
            continue  # cheap first: only a strong column needs the others measured
        others = [k for k in clean if k != j]
        without = _holdout_auc(matrix[:, others], outcomes, train, test)
        value = certain[j]
        if value is not None:
            low = _near_never(rates[j])
            other_end = (
                f", while {_shown(mapping, attribute.name, low.value)} converts at {low.rate:.1%} over {low.leads}"
                if low is not None and value.conversions < HOLDS_SHARE * conversions
                else ""
            )
            reason = (
                f"= {_shown(mapping, attribute.name, value.value)} holds {value.conversions} of the {conversions} "
                f"conversions and converts at {value.rate:.1%} over {value.leads} leads{other_end}"
                " - a value set after the outcome?"
            )
        elif alone >= without + BEYOND_OTHERS:
            reason = (
                f"alone ranks the held-out leads at AUC {alone:.3f}, far beyond all other columns together "
                f"({without:.3f}) - filled in after contact?"
            )
        else:
            continue
        with_it = _holdout_auc(matrix[:, [*others, j]], outcomes, train, test)
        shown = tuple(
            ValueRate(_shown(mapping, attribute.name, v.value), v.leads, v.conversions) for v in rates[j][:VALUES_SHOWN]
        )
        found.append(
            Suspect(
                attribute.name, _column(mapping, attribute.name), reason, alone, without, with_it, shown, conversions
            )
        )
    return found


def too_little(outcomes: Sequence[int]) -> list[str]:
    """A warning when there are fewer conversions than points can be learned from reliably."""
    conversions = sum(outcomes)
    if conversions >= MIN_CONVERSIONS:
        return []
    return [
        f"too little data: {conversions} conversions; points learned from fewer than about {MIN_CONVERSIONS} are noisy"
    ]
