"""A draft carried onto a head another admin moved: rule by rule, setting by setting, their layout kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from webhooks.console.edits import add_rule, remove_rule, set_value
from webhooks.console.merge import THEIRS, YOURS, merge

PACKAGED = Path(__file__).resolve().parents[3] / "mappings"
SCORING = (PACKAGED / "scoring.yaml").read_text()
HUBSPOT = (PACKAGED / "hubspot.yaml").read_text()
BASE = {"scoring.yaml": SCORING, "hubspot.yaml": HUBSPOT}


def _data(files: dict[str, str], name: str = "scoring.yaml") -> Any:
    return yaml.safe_load(files[name])


def _with(name: str, text: str) -> dict[str, str]:
    return {**BASE, name: text}


def test_edits_to_different_rules_are_both_kept_and_their_comments_survive() -> None:
    theirs = _with("scoring.yaml", set_value(SCORING, ("fit", 0, "points"), 30))
    yours = _with("scoring.yaml", set_value(SCORING, ("fit", 1, "points"), 60))
    merged = merge(BASE, theirs, yours, {})
    assert merged.conflicts == []
    assert [r["points"] for r in _data(merged.files)["fit"][:2]] == [30, 60]
    assert "# leadtherm scoring rules" in merged.files["scoring.yaml"]
    before, after = theirs["scoring.yaml"].splitlines(), merged.files["scoring.yaml"].splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1  # their text with exactly your one line changed


def test_a_rule_each_admin_added_is_kept_and_a_removed_rule_stays_removed() -> None:
    rule = {"label": "Theirs", "attribute": "visits", "at_least": 3, "points": 4}
    theirs = _with("scoring.yaml", add_rule(SCORING, "engagement", rule))
    yours_text = remove_rule(add_rule(SCORING, "engagement", {**rule, "label": "Yours"}), "fit", 2)
    merged = merge(BASE, theirs, _with("scoring.yaml", yours_text), {})
    assert merged.conflicts == []
    data = _data(merged.files)
    assert [r["label"] for r in data["engagement"][-2:]] == ["Theirs", "Yours"]
    assert len(data["fit"]) == len(_data(BASE)["fit"]) - 1
    assert _data(BASE)["fit"][2]["label"] not in [r["label"] for r in data["fit"]]


def test_a_rule_both_changed_is_a_conflict_holding_theirs_until_chosen() -> None:
    theirs = _with("scoring.yaml", set_value(SCORING, ("fit", 0, "points"), 30))
    yours = _with("scoring.yaml", set_value(SCORING, ("fit", 0, "points"), 60))
    merged = merge(BASE, theirs, yours, {})
    [conflict] = merged.conflicts
    assert "points: 30" in conflict.theirs and "points: 60" in conflict.yours
    assert merged.files == theirs  # nothing of theirs undone while undecided
    assert _data(merge(BASE, theirs, yours, {conflict.key: THEIRS}).files)["fit"][0]["points"] == 30
    assert _data(merge(BASE, theirs, yours, {conflict.key: YOURS}).files)["fit"][0]["points"] == 60


def test_settings_and_mapping_entries_merge_by_their_key() -> None:
    theirs = {
        "scoring.yaml": set_value(SCORING, ("temperature", "warm"), 45),
        "hubspot.yaml": set_value(HUBSPOT, ("attributes", "lead_status", "map", "NEW"), "fresh"),
    }
    yours = {
        "scoring.yaml": set_value(SCORING, ("temperature", "hot"), 80),
        "hubspot.yaml": set_value(HUBSPOT, ("attributes", "lead_status", "map", "OPEN"), "opened"),
    }
    merged = merge(BASE, theirs, yours, {})
    assert merged.conflicts == []
    assert _data(merged.files)["temperature"] == {**_data(BASE)["temperature"], "warm": 45, "hot": 80}
    lead_status = _data(merged.files, "hubspot.yaml")["attributes"]["lead_status"]["map"]
    assert (lead_status["NEW"], lead_status["OPEN"]) == ("fresh", "opened")


def test_a_file_that_is_not_yaml_on_one_side_is_one_conflict_of_the_whole_file() -> None:
    theirs = _with("scoring.yaml", set_value(SCORING, ("fit", 0, "points"), 30))
    yours = _with("scoring.yaml", SCORING + "\n  broken: [\n")
    merged = merge(BASE, theirs, yours, {})
    [conflict] = merged.conflicts
    assert conflict.what == "the whole file" and merged.files == theirs
    assert merge(BASE, theirs, yours, {conflict.key: YOURS}).files == yours
