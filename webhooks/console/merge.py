"""A draft carried onto a head another admin moved: a three-way merge, rule by rule and setting by setting.

base is the version the draft started from, theirs the head now in force, yours the draft. A rule
(found by its label within its list) or a setting (a key path such as temperature.warm) that only
one side changed takes that side's change; one both changed differently is a conflict, left as
theirs until the admin chooses. So the draft's diff against the head never undoes their change.
Edits are made on theirs' text, so their comments and layout survive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from mappings.grammar import SCORING_FILE
from webhooks.console.edits import AXES, EditError, add_rule, remove_rule, replace_rule, set_value

THEIRS, YOURS = "theirs", "yours"
_GONE = object()  # a rule, setting or file one side does not have

Unit = tuple[str | int, ...]  # ("rule", axis, label) or ("set", *path) or ("file",)


@dataclass(frozen=True)
class Conflict:
    """One rule, setting or file both admins changed differently."""

    key: str  # stable id, posted back with the admin's choice
    file: str
    what: str
    theirs: str  # YAML of their version, or "(removed)"
    yours: str


@dataclass(frozen=True)
class Merged:
    files: dict[str, str]
    conflicts: list[Conflict]  # not yet chosen: the files hold theirs there


def _load(text: str | None) -> Any:
    if text is None:
        return _GONE
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _leaves(data: Mapping[str, Any], path: tuple[str, ...], into: dict[Unit, Any]) -> None:
    for key, value in data.items():
        here = (*path, str(key))
        if isinstance(value, dict) and value:
            _leaves(value, here, into)
        else:
            into[("set", *here)] = value


def _labels_unique(rules: Any) -> bool:
    if not isinstance(rules, list) or not all(isinstance(r, dict) and isinstance(r.get("label"), str) for r in rules):
        return False
    labels = [r["label"] for r in rules]
    return len(labels) == len(set(labels))


def _units(name: str, data: Mapping[str, Any], by_rule: frozenset[str]) -> dict[Unit, Any]:
    """The file cut into what is merged separately: each rule of a list in `by_rule`, each setting."""
    units: dict[Unit, Any] = {}
    rest = {k: v for k, v in data.items() if not (name == SCORING_FILE and k in by_rule)}
    _leaves(rest, (), units)
    if name == SCORING_FILE:
        for axis in by_rule:
            for rule in data.get(axis) or []:
                units[("rule", axis, rule["label"])] = rule
    return units


def _snippet(unit: Unit, value: Any) -> str:
    if value is _GONE:
        return "(removed)"
    if unit[0] == "rule":
        return yaml.safe_dump([value], sort_keys=False, allow_unicode=True).strip()
    if unit[0] == "file":
        return str(value)
    return yaml.safe_dump({".".join(map(str, unit[1:])): value}, sort_keys=False, allow_unicode=True).strip()


def _what(unit: Unit) -> str:
    if unit[0] == "rule":
        return f"rule {unit[2]!r} in {unit[1]}"
    if unit[0] == "file":
        return "the whole file"
    return ".".join(map(str, unit[1:]))


def conflict_key(file: str, unit: Unit) -> str:
    return json.dumps([file, *unit], ensure_ascii=False)


def _set_data(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        found = data.get(part)
        if not isinstance(found, dict):
            found = data[part] = {}
        data = found
    if value is _GONE:
        data.pop(path[-1], None)
    else:
        data[path[-1]] = value


def _rule_index(data: Any, axis: str, label: str) -> int | None:
    rules = data.get(axis) if isinstance(data, dict) else None
    for index, rule in enumerate(rules or []):
        if isinstance(rule, dict) and rule.get("label") == label:
            return index
    return None


def _apply(text: str, data: dict[str, Any], unit: Unit, value: Any) -> tuple[str, dict[str, Any]]:
    """Theirs' text and data with one of your changes made: on the text where it can be, else on the data."""
    if unit[0] == "rule":
        axis, label = str(unit[1]), str(unit[2])
        index = _rule_index(data, axis, label)
        rules = list(data.get(axis) or [])
        if value is _GONE:
            if index is None:
                return text, data
            rules.pop(index)
            try:
                text = remove_rule(text, axis, index)
            except EditError:
                text = ""
        elif index is None:
            rules.append(value)
            try:
                text = add_rule(text, axis, value)
            except EditError:
                text = ""
        else:
            rules[index] = value
            try:
                text = replace_rule(text, axis, index, value)
            except EditError:
                text = ""
        data[axis] = rules
        return text, data
    path = tuple(str(p) for p in unit[1:])
    _set_data(data, path, value)
    if value is _GONE or not text:
        return "", data
    try:
        return set_value(text, path, value), data
    except EditError:
        return "", data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _merge_file(
    name: str, base: str | None, theirs: str | None, yours: str | None, choices: Mapping[str, str]
) -> tuple[str | None, list[Conflict]]:
    if yours == base or theirs == yours:
        return theirs, []
    if theirs == base:
        return yours, []
    b, t, y = _load(base), _load(theirs), _load(yours)
    if not all(isinstance(d, dict) for d in (b, t, y)):
        key = conflict_key(name, ("file",))
        choice = choices.get(key)
        if choice == YOURS:
            return yours, []
        if choice == THEIRS:
            return theirs, []
        conflict = Conflict(key, name, _what(("file",)), theirs or "(removed)", yours or "(removed)")
        return theirs, [conflict]
    by_rule = frozenset(a for a in AXES if all(_labels_unique(d.get(a) or []) for d in (b, t, y)))
    units_b, units_t, units_y = (_units(name, d, by_rule) for d in (b, t, y))
    text, data = str(theirs), dict(t)
    conflicts: list[Conflict] = []
    for unit in dict.fromkeys([*units_b, *units_t, *units_y]):
        vb, vt, vy = (u.get(unit, _GONE) for u in (units_b, units_t, units_y))
        if vy == vb or vt == vy:
            continue
        if vt != vb:
            key = conflict_key(name, unit)
            choice = choices.get(key)
            if choice == THEIRS:
                continue
            if choice != YOURS:
                conflicts.append(Conflict(key, name, _what(unit), _snippet(unit, vt), _snippet(unit, vy)))
                continue
        text, data = _apply(text, data, unit, vy)
    if not text or _load(text) != data:
        text = _dump(data)  # the text edits could not place a change: valid, though comments are lost
    return text, conflicts


def merge(
    base: Mapping[str, str], theirs: Mapping[str, str], yours: Mapping[str, str], choices: Mapping[str, str]
) -> Merged:
    """Your edits (base -> yours) carried onto theirs, with the conflicts not yet settled by `choices`."""
    files: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for name in sorted({*base, *theirs, *yours}):
        text, found = _merge_file(name, base.get(name), theirs.get(name), yours.get(name), choices)
        conflicts.extend(found)
        if text is not None:
            files[name] = text
    return Merged(files, conflicts)


__all__ = ["THEIRS", "YOURS", "Conflict", "Merged", "conflict_key", "merge"]
