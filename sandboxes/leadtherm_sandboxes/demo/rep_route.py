"""The sandboxes' "a rep edits a record" route: a change made as a person, not as leadtherm's user.

Every change made through a sandbox's API counts as the integration user's, which leadtherm drops
as the echo of its own write; this route lets a user watch a rep's change flow through `serve`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from flask import Response

REP_ROUTE = "/sandbox/rep"  # not a CRM API: the sandboxes' stand-in for a rep's edit in the CRM's UI


def _answer(status: int, payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def rep_change(body: bytes, known: bool, fields: Collection[str], update: Callable[[dict[str, Any]], None]) -> Response:
    """Apply a JSON object of field -> value as a rep's edit; 404 for an unknown record, 400 for bad fields."""
    if not known:
        return _answer(404, {"error": "no such record"})
    try:
        values = json.loads(body or b"{}", parse_constant=_refuse_constant)
    except ValueError as exc:
        return _answer(400, {"error": f"the body is not JSON: {exc}"})
    if not isinstance(values, dict) or not values:
        return _answer(400, {"error": 'the body must be a JSON object of field -> value, e.g. {"Rating": "Hot"}'})
    unknown = sorted(name for name in values if name not in fields)
    if unknown:
        return _answer(400, {"error": f"no such field: {', '.join(unknown)}"})
    update(values)
    return _answer(200, {"changed": sorted(values), "by": "rep"})
