"""The forms' edits, made on the YAML text line by line so that the admin's comments and layout survive.

Each function takes a file's text and returns the edited text. Where the text is not laid out
as expected (a flow-style block, a key that is not there) it falls back to a re-dump of the data,
which is valid but drops comments. Validation is the caller's: the result goes through the loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from mappings.catalogue import CUSTOM_KINDS
from mappings.documents import DocumentError, compose_yaml
from mappings.grammar import CONDITIONS as GRAMMAR_CONDITIONS
from mappings.grammar import DAYS_AGO, IN, IS, NUMERIC_CONDITIONS, PRESENT, SECTION_KEYS
from mappings.loader import Located

# libyaml where installed: the forms need only where each key starts, not the loader's full parse.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

AXES = SECTION_KEYS
# The conditions the forms offer: a date's age (days_ago) is a range of its own, edited as YAML.
CONDITIONS = tuple(c for c in GRAMMAR_CONDITIONS if c != DAYS_AGO)
KINDS = CUSTOM_KINDS


class EditError(ValueError):
    """A form value that cannot become YAML (the message names the field)."""


def scalar(value: Any) -> str:
    """One YAML value on one line, quoted only where YAML needs it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1_000_000).strip()
    return text.removesuffix("...").strip()


def _index(node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            _index(value, (*path, key.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines)


def read_yaml(text: str, file: str) -> Located:
    """The text's data and the line each key and list item starts on (EditError when it is not YAML)."""
    try:
        node = compose_yaml(text, fast=True)  # bounded: no alias bomb, no runaway nesting
        data = yaml.load(text, Loader=_Loader) if node is not None else {}
    except DocumentError as exc:
        raise EditError(f"{file}: {exc}; fix it in the YAML editor first") from None
    except yaml.YAMLError as exc:
        raise EditError(f"{file}: not valid YAML; fix it in the YAML editor first") from exc
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _index(node, (), lines)
    return Located(data, lines)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _significant(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _set_in(data: Any, path: Sequence[str | int], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {}) if isinstance(data, dict) else data[part]
    data[path[-1]] = value


def set_value(text: str, path: Sequence[str | int], value: Any) -> str:
    """Set one scalar (or one-line list) at `path`, e.g. ("fit", 3, "points") or ("temperature", "warm")."""
    located = read_yaml(text, "edit")
    key = tuple(path)
    line_no = located.lines.get(key)
    lines = _lines(text)
    if line_no is not None:
        line = lines[line_no - 1]
        pattern = rf"^(\s*(?:-\s+)?{re.escape(str(path[-1]))}\s*:\s*)([^#\n]*?)(\s+#.*)?(\r?\n)?$"
        match = re.match(pattern, line)
        value_is_block = match is not None and not match.group(2).strip()
        if match and not value_is_block:
            lines[line_no - 1] = f"{match.group(1)}{scalar(value)}{match.group(3) or ''}{match.group(4) or ''}"
            return "".join(lines)
    data = located.data if isinstance(located.data, dict) else {}
    _set_in(data, path, value)
    return _dump(data)


def _item_span(lines: list[str], start: int) -> tuple[int, int]:
    """The 0-based [first, end) lines of the list item starting at `start`, trailing blanks and comments left out."""
    dash = _indent(lines[start])
    end = start + 1
    while end < len(lines) and not (_significant(lines[end]) and _indent(lines[end]) <= dash):
        end += 1
    while end > start + 1 and not _significant(lines[end - 1]):
        end -= 1
    return start, end


def _condition_line(condition: Mapping[str, Any]) -> str:
    """One condition of a compound rule as a flow mapping, attribute first: `{attribute: seniority, is: director}`."""
    keys = ["attribute", *[k for k in CONDITIONS if k in condition]]
    keys += [k for k in condition if k not in keys]  # a test the form does not offer (days_ago) stays
    values = {k: condition[k] for k in keys if condition[k] is not None}
    data = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in values.items()}
    text = yaml.safe_dump(data, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1_000_000)
    return text.strip()


def _rule_lines(rule: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    keys = ["label", "attribute", *[k for k in CONDITIONS if k in rule], "max_points", "all", "points"]
    keys += [k for k in rule if k not in keys]  # keys the form does not know (a merged rule's) stay
    body = [
        "all:" + "".join(f"\n{pad}    - {_condition_line(c)}" for c in rule[k])
        if k == "all"
        else f"{k}: {scalar(rule[k])}"
        for k in keys
        if k in rule and rule[k] is not None
    ]
    return [f"{pad}- {body[0]}\n", *[f"{pad}  {b}\n" for b in body[1:]]]


def _list_start(located: Located, axis: str, index: int) -> int:
    line = located.lines.get((axis, index))
    if line is None:
        raise EditError(f"{axis}[{index}]: no such rule")
    return line - 1


def _rule_span(text: str, axis: str, index: int) -> tuple[Located, list[Any], list[str], int, int]:
    """The file read, the rules of `axis`, the file's lines and where rule `index` starts and ends."""
    located = read_yaml(text, "edit")
    items = located.data.get(axis) if isinstance(located.data, dict) else None
    if not isinstance(items, list) or not 0 <= index < len(items):
        raise EditError(f"{axis}[{index}]: no such rule")
    lines = _lines(text)
    first, end = _item_span(lines, _list_start(located, axis, index))
    return located, items, lines, first, end


def remove_rule(text: str, axis: str, index: int) -> str:
    """Drop one rule; a list left empty becomes `[]` so the file stays valid."""
    located, items, lines, first, end = _rule_span(text, axis, index)
    if not lines[first].lstrip().startswith("-"):
        items.pop(index)
        return _dump(located.data)
    del lines[first:end]
    if len(items) == 1:
        key_line = located.lines[(axis,)] - 1
        lines[key_line] = re.sub(
            r"^(\s*" + re.escape(axis) + r"\s*:)\s*(#.*)?$", r"\1 []  \2", lines[key_line].rstrip()
        )
        lines[key_line] = lines[key_line].rstrip() + "\n"
    return "".join(lines)


def replace_rule(text: str, axis: str, index: int, rule: Mapping[str, Any]) -> str:
    """Rewrite one rule in place (label, attribute, condition, points); the rest of the file is untouched."""
    located, items, lines, first, end = _rule_span(text, axis, index)
    if not lines[first].lstrip().startswith("-"):
        items[index] = dict(rule)
        return _dump(located.data)
    lines[first:end] = _rule_lines(rule, _indent(lines[first]))
    return "".join(lines)


def add_rule(text: str, axis: str, rule: Mapping[str, Any]) -> str:
    """Append a rule at the end of its list (fit, engagement or penalties)."""
    if axis not in AXES:
        raise EditError(f"axis: must be one of {', '.join(AXES)}")
    located = read_yaml(text, "edit")
    data = located.data if isinstance(located.data, dict) else {}
    items = data.get(axis)
    lines = _lines(text)
    if isinstance(items, list) and items and (axis, 0) in located.lines:
        last = _list_start(located, axis, len(items) - 1)
        _, end = _item_span(lines, last)
        new = _rule_lines(rule, _indent(lines[last]))
        return "".join([*lines[:end], *new, *lines[end:]])
    if (axis,) in located.lines and not items:
        key_line = located.lines[(axis,)] - 1
        lines[key_line] = f"{axis}:\n"
        return "".join([*lines[: key_line + 1], *_rule_lines(rule, 2), *lines[key_line + 1 :]])
    data.setdefault(axis, [])
    data[axis] = [*(data[axis] or []), dict(rule)]
    return _dump(data)


def parse_condition(condition: str, raw: str, kind: str) -> Any:
    """A form's condition value as YAML data: a number, a boolean, a list, or text."""
    value = raw.strip()
    if condition not in CONDITIONS:
        raise EditError(f"condition: must be one of {', '.join(CONDITIONS)}")
    if condition in NUMERIC_CONDITIONS:
        try:
            return float(value)
        except ValueError:
            raise EditError(f"{condition}: must be a number (got {raw!r})") from None
    if condition == PRESENT or (condition == IS and kind == "boolean"):
        if value.casefold() not in ("true", "false"):
            raise EditError(f"{condition}: must be true or false (got {raw!r})")
        return value.casefold() == "true"
    if condition == IN:
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def add_custom_attribute(text: str, name: str, spec: Mapping[str, Any]) -> str:
    """Declare (or redeclare) an admin attribute under `custom_attributes:` in a mapping file."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise EditError(f"name: {name!r} must be lower case letters, digits and _ (starting with a letter)")
    if spec.get("kind") not in KINDS:
        raise EditError(f"kind: must be one of {', '.join(KINDS)}")
    body = ", ".join(f"{k}: {scalar(v)}" for k, v in spec.items() if v not in (None, ""))
    entry = f"  {name}: {{{body}}}\n"
    located = read_yaml(text, "edit")
    data = located.data if isinstance(located.data, dict) else {}
    section = data.get("custom_attributes")
    lines = _lines(text)
    if isinstance(section, dict) and section and ("custom_attributes", next(iter(section))) in located.lines:
        if name in section:
            start = located.lines[("custom_attributes", name)] - 1
            end = start + 1
            while end < len(lines) and not (_significant(lines[end]) and _indent(lines[end]) <= _indent(lines[start])):
                end += 1
            lines[start:end] = [entry]
            return "".join(lines)
        last = located.lines[("custom_attributes", list(section)[-1])] - 1
        end = last + 1
        while end < len(lines) and not (_significant(lines[end]) and _indent(lines[end]) <= _indent(lines[last])):
            end += 1
        while end > last + 1 and not _significant(lines[end - 1]):
            end -= 1
        return "".join([*lines[:end], entry, *lines[end:]])
    if "custom_attributes" in data:
        key_line = located.lines[("custom_attributes",)] - 1
        lines[key_line] = "custom_attributes:\n"
        return "".join([*lines[: key_line + 1], entry, *lines[key_line + 1 :]])
    tail = "" if not lines or lines[-1].endswith("\n") else "\n"
    header = "\ncustom_attributes:            # the admin's own attributes; scoring.yaml rules test them by name\n"
    return "".join(lines) + tail + header + entry


__all__ = [
    "AXES",
    "CONDITIONS",
    "KINDS",
    "EditError",
    "add_custom_attribute",
    "add_rule",
    "parse_condition",
    "remove_rule",
    "replace_rule",
    "set_value",
]
