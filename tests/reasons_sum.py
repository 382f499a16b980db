"""Reading the points back out of a reasons text: "Decision-maker title (+13); 9 more (+41)"."""

from __future__ import annotations

import re

_POINTS = re.compile(r"\(([+-]\d+|0)\)$")


def points_in(text: str) -> list[int]:
    """The whole points of each item of a reasons text (the "hot once confirmed" note has none)."""
    found = (_POINTS.search(part.strip()) for part in text.split("; "))
    return [int(match.group(1)) for match in found if match]
