"""assess() remembers, per rule set, what each attribute value earned: a rule set used before decides as a new one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integration.domain.scoring import assess
from mappings.schema import Rule, ScoringRules
from tests.conftest import MakeLead

# Equal as dict keys (True == 1 == 1.0, 0.0 == -0.0) yet written differently, which a `matches` rule reads.
LOOKALIKES: list[Any] = [True, 1, 1.0, "1", False, 0, 0.0, -0.0, "0", None, 7, 7.0, "Software", "software"]


def _with_pattern_rules(rules: ScoringRules) -> ScoringRules:
    """The default rules and a rule that tells the lookalikes apart by how they are written."""
    written = Rule.model_validate(
        {"label": "Written as 1 or -0", "attribute": "industry", "matches": "^(1|-0)", "points": 7}
    )
    return rules.model_copy(update={"fit": [*rules.fit, written]})


def test_an_outcome_remembered_for_one_value_is_never_reused_for_an_equal_value_of_another_class(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    used = _with_pattern_rules(rules)
    for attribute in ("industry", "need", "page_views", "seniority"):
        # A counter holds numbers (a text value is refused at load, before any rule reads it).
        kept = [v for v in LOOKALIKES if attribute != "page_views" or not isinstance(v, str)]
        for value in [*kept, *reversed(kept)]:
            subject = lead(**{attribute: value})
            unused = used.model_copy(deep=True)  # a rule set never assessed: nothing remembered yet
            assert assess(subject, used, now) == assess(subject, unused, now), (attribute, value)


def test_past_the_values_a_rule_set_remembers_it_starts_over_and_still_decides_the_same(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    for n in range(2500):  # more distinct values than one rule group remembers
        titled = assess(lead(industry=f"industry {n}"), rules, now)
        assert titled == assess(lead(industry=f"industry {n}"), rules.model_copy(deep=True), now)
