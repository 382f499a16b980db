"""The admin's regular expressions (rules' `matches`, mapping patterns), compiled in one place to run on RE2.

Python's `re` backtracks: a pattern such as `^(a+)+$` on a 35-character job title runs for
minutes holding the GIL, so a service stops answering and ignores SIGTERM. RE2 runs in time
linear in the text, and the text is cut to `MAX_SUBJECT_CHARS` first, so one match is bounded
whatever a record holds. RE2 refuses what it cannot run in linear time (backreferences,
lookarounds, possessive quantifiers); `check`, the loader and the console report that at the
pattern's line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import re2

MAX_SUBJECT_CHARS = 1_000  # a match sees at most this much of a value: titles and domains are far shorter
_MAX_MEMORY = 8 << 20  # RE2's own default; a pattern needing more is refused as too large

# RE2's reasons, as an admin who wrote a Python or PCRE pattern reads them.
_EXPLAINED = (
    ("invalid escape sequence: \\Z", "\\Z is not supported; use \\z or $ for the end of the text"),
    ("invalid escape sequence: \\", "backreferences (\\1) and this escape are not supported"),
    ("invalid perl operator: (?=", "lookahead (?=...) is not supported"),
    ("invalid perl operator: (?!", "negative lookahead (?!...) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...) is not supported"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!...) is not supported"),
    ("invalid perl operator: (?>", "atomic groups (?>...) are not supported"),
    ("bad repetition operator: ++", "possessive quantifiers (++, *+, ?+) are not supported"),
    ("bad repetition operator: *+", "possessive quantifiers (++, *+, ?+) are not supported"),
    ("bad repetition operator: ?+", "possessive quantifiers (++, *+, ?+) are not supported"),
    ("invalid repetition size", "a repetition count above 1000 is not supported"),
    ("pattern too large", "the pattern is too large"),
    ("missing )", "a ( is not closed"),
    ("unexpected )", "a ) closes no group"),
    ("missing ]", "a [ is not closed"),
)


class PatternError(ValueError):
    """An admin's pattern that RE2 cannot run; the message says why and names the pattern."""


@dataclass(frozen=True)
class Pattern:
    """A compiled admin pattern: case-insensitive search on the first MAX_SUBJECT_CHARS of a text."""

    source: str
    _compiled: re2._Regexp[str]

    def search(self, text: str) -> bool:
        """Whether the pattern occurs in the text (cut to MAX_SUBJECT_CHARS)."""
        return self._compiled.search(text[:MAX_SUBJECT_CHARS]) is not None


def _reason(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else exc
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return next((friendly for prefix, friendly in _EXPLAINED if text.startswith(prefix)), text)


@lru_cache(maxsize=1024)
def compile_pattern(source: str) -> Pattern:
    """The pattern compiled for RE2 (PatternError when RE2 cannot run it)."""
    options = re2.Options()
    options.case_sensitive = False
    options.never_capture = True  # only "does it occur" is asked: no group bookkeeping
    options.log_errors = False  # a refused pattern is reported to the admin, not to stderr
    options.max_mem = _MAX_MEMORY
    try:
        compiled = re2.compile(source, options)
    except re2.error as exc:
        raise PatternError(
            f"bad regular expression {source!r}: {_reason(exc)} (RE2 syntax: see the README's Patterns)"
        ) from exc
    return Pattern(source, compiled)


def valid_pattern(source: str) -> str:
    """The pattern unchanged when RE2 can run it; for a schema's field validator."""
    compile_pattern(source)
    return source
