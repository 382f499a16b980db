"""Bounded reading of the documents an admin or an upload supplies: every YAML and JSON leadtherm parses.

A 545-byte YAML alias bomb expands to gigabytes, a 1,000-deep nesting overflows the parser's
recursion, a 5,000-digit JSON integer raises a bare ValueError: each used to take a service or a
console page down. Here YAML aliases are refused (nothing leadtherm reads needs them), nesting
is limited to MAX_DEPTH levels, and JSON numbers to MAX_NUMBER_DIGITS digits, each as a
DocumentError that names the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from mappings.json_numbers import NonStandardNumber, refuse_constant

MAX_DEPTH = 50  # the admin's files nest 4 levels, CRM exports about 5
MAX_NUMBER_DIGITS = 100  # CRM ids and amounts have at most ~20; Python refuses an int of 4,300
# libyaml where installed for the bounds check: it walks the events only, never builds a tree.
_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # strings skipped whole: a bracket in one does not count
_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class DocumentError(ValueError):
    """A document over a bound (alias, depth, number size); `line` is 1-based, or None when unknown."""

    def __init__(self, message: str, line: int | None) -> None:
        self.message, self.line = message, line
        super().__init__(f"line {line}: {message}" if line is not None else message)


def _line(event: yaml.Event) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _events_within_bounds(text: str, loader: type[yaml.SafeLoader]) -> Iterator[yaml.Event]:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            raise DocumentError(
                f"YAML aliases (*{event.anchor}) are not allowed; write the value out where it is used",
                _line(event),
            )
        if isinstance(event, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                raise DocumentError(f"nested deeper than {MAX_DEPTH} levels", _line(event))
        elif isinstance(event, _CLOSES):
            depth -= 1
        yield event


def check_yaml(text: str) -> None:
    """DocumentError when the text holds an alias or nests too deep; yaml.YAMLError when it is not YAML."""
    try:
        for _ in _events_within_bounds(text, _FAST):
            pass
    except yaml.YAMLError:
        if _FAST is yaml.SafeLoader:
            raise
        # libyaml gives up at 1,000 levels with a scanner error: PyYAML's parser says which bound it was.
        for _ in _events_within_bounds(text, yaml.SafeLoader):
            pass
        raise


class _Bounded(yaml.SafeLoader):
    """PyYAML's safe composer, refusing aliases and nesting deeper than MAX_DEPTH as it goes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        if isinstance(event, yaml.AliasEvent):
            raise DocumentError(
                f"YAML aliases (*{event.anchor}) are not allowed; write the value out where it is used", _line(event)
            )
        opens = isinstance(event, _OPENS)
        if opens:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise DocumentError(f"nested deeper than {MAX_DEPTH} levels", _line(event))
        try:
            return super().compose_node(parent, index)
        finally:
            if opens:
                self._depth -= 1


def compose_yaml(text: str, fast: bool = False) -> yaml.Node | None:
    """The text's node tree (with line marks), refusing aliases and deep nesting.

    PyYAML's own parser by default (its error messages); `fast` parses with libyaml where installed.
    """
    if not fast or _FAST is yaml.SafeLoader:
        return yaml.compose(text, Loader=_Bounded)
    check_yaml(text)
    return yaml.compose(text, Loader=_FAST)


def load_yaml(text: str) -> Any:
    """The text's data as plain Python values, refusing aliases and deep nesting."""
    check_yaml(text)
    return yaml.load(text, Loader=_FAST)  # a SafeLoader: libyaml's where installed


class _TooLong(ValueError):
    def __init__(self, digits: str) -> None:
        self.digits = digits
        super().__init__(digits)


def _number(convert: type[int] | type[float]) -> Any:
    def parse(digits: str) -> int | float:
        if len(digits) > MAX_NUMBER_DIGITS:
            raise _TooLong(digits)
        return convert(digits)

    return parse


def _deepest(data: Any) -> int:
    """How many containers deep the data nests, walked without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            return depth
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json(text: str) -> Any:
    """The text's JSON data; DocumentError for a number over MAX_NUMBER_DIGITS digits, nesting over MAX_DEPTH,
    or NaN / Infinity (not JSON, and no spreadsheet or other parser reads them back).

    json.JSONDecodeError (with its line) is left to the caller, as for any syntax error.
    """
    try:
        data = json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=refuse_constant)
    except NonStandardNumber as exc:
        raise DocumentError(str(exc), _constant_at(text, exc.token)) from None
    except _TooLong as exc:
        line = text.count("\n", 0, max(text.find(exc.digits), 0)) + 1
        raise DocumentError(f"a number of {len(exc.digits):,} digits (at most {MAX_NUMBER_DIGITS})", line) from None
    except RecursionError:
        raise DocumentError(f"nested deeper than {MAX_DEPTH} levels", _too_deep_at(text)) from None
    if _deepest(data) > MAX_DEPTH:
        raise DocumentError(f"nested deeper than {MAX_DEPTH} levels", _too_deep_at(text))
    return data


def _constant_at(text: str, token: str) -> int | None:
    """The line of the first `token` outside a string (NaN, Infinity or -Infinity)."""
    for found in re.finditer(r'"(?:[^"\\]|\\.)*"|' + re.escape(token), text):
        if found.group() == token:
            return text.count("\n", 0, found.start()) + 1
    return None


def _too_deep_at(text: str) -> int | None:
    """The line on which JSON text first opens a container deeper than MAX_DEPTH."""
    depth = 0
    for token in _BRACKETS.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, token.start()) + 1
        elif bracket in ("]", "}"):
            depth -= 1
    return None
