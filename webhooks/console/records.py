"""The records pages: search the stored records, and one page per record (score, reasons, history, draft)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, render_template, request

from integration.domain.decisions import unreadable
from integration.domain.grid import grid_cell
from integration.domain.model import Assessment, signed
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess
from integration.errors import LeadthermError, MappingError
from integration.ports import (
    SCORE_HISTORY,
    AuditEntry,
    CrmClient,
    RecordQuery,
    RecordRef,
    RecordSearch,
    StoredAssessment,
    StoredPage,
)
from mappings.catalogue import TEMPERATURES
from mappings.schema import CrmMapping, ScoringRules
from webhooks.console.charts import score_line
from webhooks.console.context import Console

log = logging.getLogger("leadtherm.console")
PAGE_SIZE = 50
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class DraftComparison:
    """The record as the rules in force and the admin's draft score it now, from the values the CRM holds."""

    current: Assessment | None
    draft: Assessment | None
    problem: str | None = None

    @property
    def changes(self) -> list[tuple[str, Any, Any]]:
        """(what, in force, draft) for each value the draft changes."""
        if self.current is None or self.draft is None:
            return []
        pairs = [
            ("score", self.current.score, self.draft.score),
            ("fit", self.current.fit, self.draft.fit),
            ("engagement", self.current.engagement, self.draft.engagement),
            ("temperature", self.current.temperature.value, self.draft.temperature.value),
            ("stage", self.current.stage.value, self.draft.stage.value),
            ("grid cell", self.current.grid, self.draft.grid),
        ]
        return [(what, old, new) for what, old, new in pairs if old != new]


def searchable(console: Console) -> RecordSearch | None:
    state = console.config.state
    return state if isinstance(state, RecordSearch) else None


def query_from_args(args: Mapping[str, str]) -> RecordQuery:
    temperature = args.get("temperature", "")
    return RecordQuery(
        text=args.get("q", "")[:200],
        title=args.get("title", "")[:200],
        temperature=temperature if temperature in TEMPERATURES else None,
    )


def crm_link(console: Console, ref: RecordRef) -> str | None:
    """The record's page in its CRM, when the CRM's plugin knows the pattern and its settings are at hand."""
    try:
        plugin = console.plugin(ref.crm)
    except LeadthermError:
        return None
    record_url = getattr(plugin, "record_url", None)
    if record_url is None:
        return None
    url = record_url(ref, console.config.env)
    return url if isinstance(url, str) and url.startswith("https://") else None


def compare_with_draft(
    ref: RecordRef,
    client: CrmClient | None,
    mappings: tuple[CrmMapping | None, CrmMapping | None],
    rules: tuple[ScoringRules | None, ScoringRules | None],
    now: datetime,
) -> DraftComparison:
    """Fetch the record (one request) and assess it with the rules in force and with the draft."""
    current_mapping, draft_mapping = mappings
    current_rules, draft_rules = rules
    if client is None:
        return DraftComparison(None, None, f"{ref.crm} is not connected to this console: its values cannot be read")
    if current_rules is None or draft_rules is None or current_mapping is None or draft_mapping is None:
        return DraftComparison(None, None, "the draft has problems: fix them on the Rules or YAML page first")
    try:
        fetched = client.fetch([ref])
    except LeadthermError as exc:
        return DraftComparison(None, None, f"{ref.crm} did not answer: {exc}")
    record = fetched.records.get(ref)
    if record is None:
        return DraftComparison(None, None, f"{ref.crm} no longer has this record")
    try:
        current = assess(Normalizer(current_mapping).read(record, ref.object_type).lead, current_rules, now)
        draft = assess(Normalizer(draft_mapping).read(record, ref.object_type).lead, draft_rules, now)
    except MappingError as exc:
        return DraftComparison(None, None, unreadable(exc, record))
    return DraftComparison(current, draft)


def score_points(stored: StoredAssessment | None, audit: list[AuditEntry]) -> list[tuple[datetime, float]]:
    """The score over time, oldest first: every assessment kept, or else each write that changed it."""
    if stored is not None and stored.scores:
        return [(at, float(score)) for at, score, _ in stored.scores]
    points = []
    for entry in reversed(audit):
        change = entry.changes.get("score")
        if entry.action == "write" and change is not None and isinstance(change[1], int | float):
            points.append((entry.at, float(change[1])))
    if stored is not None and (not points or points[-1][0] < stored.assessed_at):
        points.append((stored.assessed_at, float(stored.score)))
    return points


def add_routes(bp: Blueprint, console: Console) -> None:
    @bp.get("/records")
    def records() -> str:
        store = searchable(console)
        query = query_from_args(request.args)
        page: StoredPage | None = None
        if store is not None:
            page = store.search(query, request.args.get("after") or None, PAGE_SIZE)
        rules = console.current_rules()
        cells = {}
        if page is not None and rules is not None:
            cells = {ref: grid_cell(s.fit, s.engagement, rules.grid) for ref, s in page.records}
        return render_template(
            "records.html",
            connected=store is not None,
            query=query,
            page=page,
            cells=cells,
            temperatures=TEMPERATURES,
            searched=any(request.args.get(k) for k in ("q", "title", "temperature")),
            after=request.args.get("after", ""),
        )

    @bp.get("/records/<crm>/<object_type>/<path:record_id>")
    def record(crm: str, object_type: str, record_id: str) -> str:
        state = console.config.state
        if state is None:
            abort(404, "no backend connected to this console")
        ref = RecordRef(crm, object_type, record_id)
        stored = state.load([ref]).get(ref)
        audit = state.audit(ref, HISTORY_LIMIT)
        if stored is None and not audit:
            abort(404, f"leadtherm holds nothing about {ref}: search for it on the Records page")
        rules = console.current_rules()
        comparison = None
        if request.args.get("compare"):
            ws = console.workspace()
            comparison = compare_with_draft(
                ref,
                console.background.get(crm),
                (console.mapping_of(console.current_files(), crm), console.mapping_of(ws.files, crm)),
                (rules, console.rules_of(ws.files)),
                console.now(),
            )
            log.info("console: compared %s with the draft", ref)
        return render_template(
            "record.html",
            ref=ref,
            stored=stored,
            cell=grid_cell(stored.fit, stored.engagement, rules.grid) if stored and rules else None,
            audit=audit,
            comparison=comparison,
            crm_url=crm_link(console, ref),
            connected=crm in console.background,
            chart=score_line(score_points(stored, audit)),
            score_history=SCORE_HISTORY,
            total=sum(p for _, _, p in stored.reasons) if stored else 0,
            signed=signed,
        )
