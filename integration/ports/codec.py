"""JSON forms of the port values a state store keeps, for every backend (SQLite, DynamoDB) to share."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from integration.ports import AuditEntry, Draft, RecordRef, StoredAssessment


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def dump_assessment(state: StoredAssessment) -> str:
    return json.dumps(
        {
            "score": state.score,
            "fit": state.fit,
            "engagement": state.engagement,
            "temperature": state.temperature,
            "stage": state.stage,
            "reasons": [list(r) for r in state.reasons],
            "next_action": state.next_action,
            "assessed_at": _time(state.assessed_at),
            "temperature_changed_at": _time(state.temperature_changed_at),
            "previous_temperature": state.previous_temperature,
            "next_drop_at": _time(state.next_drop_at),
            "unmapped": list(state.unmapped),
            "company": state.company,
            "seniority": state.seniority,
            "scores": [[_time(at), score, temperature] for at, score, temperature in state.scores],
        }
    )


def load_assessment(text: str) -> StoredAssessment:
    data: dict[str, Any] = json.loads(text)
    assessed = _parse_time(data["assessed_at"])
    assert assessed is not None
    return StoredAssessment(
        score=data["score"],
        fit=data["fit"],
        engagement=data["engagement"],
        temperature=data["temperature"],
        stage=data["stage"],
        reasons=[(str(a), str(label), float(p)) for a, label, p in data["reasons"]],
        next_action=data["next_action"],
        assessed_at=assessed,
        temperature_changed_at=_parse_time(data.get("temperature_changed_at")),
        previous_temperature=data.get("previous_temperature"),
        next_drop_at=_parse_time(data.get("next_drop_at")),
        unmapped=tuple(str(f) for f in data.get("unmapped", ())),
        company=data.get("company"),
        seniority=data.get("seniority"),
        scores=tuple(
            (datetime.fromisoformat(str(at)), int(score), str(temperature))
            for at, score, temperature in data.get("scores", ())
        ),
    )


def dump_audit(entry: AuditEntry) -> str:
    return json.dumps(
        {
            "ref": str(entry.ref),
            "at": _time(entry.at),
            "action": entry.action,
            "changes": {k: [old, new] for k, (old, new) in entry.changes.items()},
            "reasons": entry.reasons,
            "event_ids": entry.event_ids,
        }
    )


def load_audit(text: str) -> AuditEntry:
    data: dict[str, Any] = json.loads(text)
    at = _parse_time(data["at"])
    assert at is not None
    return AuditEntry(
        ref=RecordRef.parse(data["ref"]),
        at=at,
        action=data["action"],
        changes={k: (v[0], v[1]) for k, v in data["changes"].items()},
        reasons=list(data["reasons"]),
        event_ids=list(data["event_ids"]),
    )


def dump_draft(draft: Draft) -> str:
    return json.dumps(
        {
            "base_head": draft.base_head,
            "base": dict(draft.base),
            "files": dict(draft.files),
            "choices": dict(draft.choices),
            "choices_head": draft.choices_head,
        }
    )


def load_draft(payload: str) -> Draft:
    data: dict[str, Any] = json.loads(payload)
    return Draft(
        int(data["base_head"]),
        {str(k): str(v) for k, v in data["base"].items()},
        {str(k): str(v) for k, v in data["files"].items()},
        {str(k): str(v) for k, v in data.get("choices", {}).items()},
        int(data.get("choices_head", 0)),
    )
