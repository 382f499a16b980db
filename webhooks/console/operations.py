"""The operations page: queue depth, oldest waiting event, dead letters and replay, the last writes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from integration.errors import LeadthermError
from integration.ports import AuditEntry
from webhooks.console.context import Console


@runtime_checkable
class RecentAudit(Protocol):
    """A state store that can list its latest decisions over every record (the embedded one can)."""

    def recent_audit(self, limit: int = 50) -> list[AuditEntry]: ...


def add_routes(bp: Blueprint, console: Console) -> None:
    @bp.get("/operations")
    def operations() -> str:
        queue, state = console.config.queue, console.config.state
        writes = state.recent_audit(50) if isinstance(state, RecentAudit) else None
        pauses = console.config.pauses
        # "since" as well as why: the running service's own pauses word it as the recorded ones do
        described = getattr(pauses, "described", None)
        paused = described() if callable(described) else pauses.paused() if pauses is not None else None
        return render_template(
            "operations.html",
            connected=queue is not None,
            stats=queue.stats() if queue is not None else None,
            dead=queue.dead_letters(100) if queue is not None else [],
            writes=writes,
            paused=paused,
        )

    @bp.post("/operations/replay")
    def replay() -> Response:
        queue = console.config.queue
        if queue is None:
            flash("No backend connected.", "error")
            return redirect(url_for("console.operations"))  # type: ignore[return-value]
        ids = request.form.getlist("id")
        try:
            count = queue.replay(ids or None)
        except LeadthermError as exc:
            flash(f"Replay failed: {exc}", "error")
            return redirect(url_for("console.operations"))  # type: ignore[return-value]
        flash(f"Replayed {count} event(s); the worker processes them next.", "info")
        return redirect(url_for("console.operations"))  # type: ignore[return-value]
