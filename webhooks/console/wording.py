"""How the console words values, changes and versions: as a person writes them in YAML, not as Python prints them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from integration.domain.written import change, written
from mappings.grammar import SCORING_FILE, SECTION_KEYS

AXES = SECTION_KEYS
SETTINGS = ("weights", "decay", "temperature", "stage", "qualification")
MAX_SUMMARY_LINES = 30  # a version that rewrote everything is summed up by its first lines; the diff has the rest


def diff_lines(diff: str) -> int:
    """Lines a unified diff adds or removes, its file headers (`---`, `+++`) and hunk marks (`@@`) not counted."""
    return sum(
        1
        for line in diff.splitlines()
        if line[:1] in ("+", "-") and not line.startswith(("+++ ", "--- ")) and line not in ("+++", "---")
    )


def prefixed(name: str, message: str) -> str:
    """`name: message`, with the name once even where the message already starts with it."""
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def job_error(kind: str, error: str) -> str:
    """A failed job's line: its kind, then the error without a CRM name the kind already ends with."""
    last = kind.rsplit(" ", 1)[-1]
    if last and error.startswith(f"{last}: "):
        error = error.removeprefix(f"{last}: ")
    return f"{kind}: {error}"


def rows_read(kept: int, rows: int) -> str:
    """How many rows of an upload the preview holds: `240 records`, or `first 500 of 100,000 rows` when cut."""
    if rows > kept:
        return f"first {kept:,} of {rows:,} rows"
    return f"{kept:,} records"


def _load(text: str | None) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _rules(data: Mapping[str, Any], axis: str) -> dict[str, Any]:
    items = data.get(axis)
    found: dict[str, Any] = {}
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            found[str(item.get("label") or f"{axis} rule {index + 1}")] = item
    return found


def _points(rule: Mapping[str, Any]) -> str:
    points = rule.get("points")
    return f"{written(points)} point{'' if points in (1, -1) else 's'}"


def _scoring_summary(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for axis in AXES:
        before, after = _rules(old, axis), _rules(new, axis)
        for label, rule in after.items():
            was = before.get(label)
            if was is None:
                lines.append(f"{label}: added to {axis}, {_points(rule)}")
            elif was.get("points") != rule.get("points"):
                lines.append(f"{label}: {written(was.get('points'))} → {_points(rule)}")
            elif was != rule:
                lines.append(f"{label}: condition changed")
        lines.extend(f"{label}: removed from {axis}" for label in before if label not in after)
    for section in SETTINGS:
        a, b = old.get(section), new.get(section)
        a, b = (a if isinstance(a, dict) else {}), (b if isinstance(b, dict) else {})
        for key in dict.fromkeys([*a, *b]):
            if a.get(key) != b.get(key):
                lines.append(change(f"{section} {key}".replace("_", " "), a.get(key), b.get(key)))
    for key in dict.fromkeys([*old, *new]):
        if key not in AXES and key not in SETTINGS and old.get(key) != new.get(key):
            lines.append(change(str(key).replace("_", " "), old.get(key), new.get(key)))
    return lines


def version_summary(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What a version changed, one plain line each: `Director or VP title: 18 → 33 points`."""
    lines: list[str] = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        if name not in before:
            lines.append(f"{name}: added")
        elif name not in after:
            lines.append(f"{name}: removed")
        elif name == SCORING_FILE:
            lines.extend(_scoring_summary(_load(before[name]), _load(after[name])) or [f"{name}: layout or comments"])
        else:
            lines.append(f"{name}: changed (see the diff)")
    if len(lines) > MAX_SUMMARY_LINES:
        rest = len(lines) - MAX_SUMMARY_LINES
        lines = [*lines[:MAX_SUMMARY_LINES], f"and {rest} more change(s): see the diff"]
    return lines
