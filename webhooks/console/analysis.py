"""What-if on an outcome history: current against edited (or calibrated) rules, side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from integration.calibration.session import Options, with_history
from integration.domain.whatif import in_segment
from integration.errors import ConfigError, LeadthermError
from mappings.grammar import SCORING_FILE, score_of
from mappings.loader import read_yaml, validate
from mappings.schema import CrmMapping, NamedScoringRules, ScoringRules
from webhooks.console.charts import bands_chart, moves_chart
from webhooks.console.context import Console, rules_file, rules_files
from webhooks.console.jobs import BACKGROUND_SHARE, Job, JobRefused, JobState, Progress, started
from webhooks.console.offload import calibrate_task, pull, pull_task, run_in_child, upload_task, whatif_task
from webhooks.console.workspace import UploadError, Workspace

HOLDOUT, SEED = 0.3, 7


def add_routes(bp: Blueprint, console: Console) -> None:
    def chosen(ws: Workspace) -> tuple[str, ScoringRules | None, ScoringRules | None]:
        """The score a request is about (empty: the default), the draft's rules of it and the rules in force."""
        score = (request.values.get("score") or "").strip()
        name = rules_file(ws.files, score)
        return score, console.rules_of(ws.files, name), console.rules_of(console.current_files(), name)

    @bp.get("/whatif")
    def whatif() -> str:
        ws = console.workspace()
        score, draft, current = chosen(ws)
        result = None
        if ws.history is not None and draft is not None and current is not None:
            key = (id(ws.history), current.model_dump_json(), draft.model_dump_json())
            latest = console.jobs.latest_any(console.owner())
            failed = latest is not None and latest.kind == "what-if" and latest.state is JobState.FAILED
            if ws.whatif is not None and ws.whatif_key == key:  # the same edit on the same history: computed once
                result = ws.whatif
            elif not failed:  # a failed one is shown with its reason, and started again by its button only
                start_whatif(ws, key, current, draft)
        return render_template(
            "whatif.html",
            ws=ws,
            result=result,
            job=console.jobs.latest_any(console.owner()),
            draft_valid=draft is not None,
            score=score,
            scores=[s for n in rules_files(ws.files) if (s := score_of(n)) is not None],
            crms=console.crms(ws.files),
            connected=sorted(console.config.clients),
            bands_chart=bands_chart,
            moves_chart=moves_chart,
        )

    def back() -> Response:
        return redirect(url_for("console.whatif", score=request.values.get("score") or None))  # type: ignore[return-value]

    def whatif_work(ws: Workspace, current: Any, draft: Any) -> Callable[[Progress], Any]:
        history = ws.history
        assert history is not None
        # A named score is replayed on the history's leads in its segment (as `calibrate --score` learns it).
        replayed = in_segment(history, tuple(draft.segment)) if isinstance(draft, NamedScoringRules) else history
        return lambda progress: (
            history,
            run_in_child(whatif_task, (current, draft, HOLDOUT, SEED), replayed, progress),
        )

    def whatif_done(ws: Workspace, key: tuple[int, str, str]) -> Callable[[Any], None]:
        def done(result: Any) -> None:
            history, computed = result
            if ws.history is history:  # not a history replaced meanwhile
                ws.whatif, ws.whatif_key = computed, key

        return done

    def start_whatif(ws: Workspace, key: tuple[int, str, str], current: Any, draft: Any) -> Job | None:
        """Queue the what-if of this edit on this history, unless the admin's pool slot is taken."""
        try:
            return console.jobs.submit(
                console.owner(), "what-if", whatif_work(ws, current, draft), whatif_done(ws, key)
            )
        except JobRefused:
            return None  # the admin's running job shows on the page; the what-if starts after it

    @bp.post("/whatif/run")
    def whatif_run() -> BaseResponse:
        """Start the what-if of the draft on the history: answers at once with the job (JSON) or the page."""
        ws = console.workspace()
        score, draft, current = chosen(ws)
        if ws.history is None or draft is None or current is None:
            flash("Upload a history and keep the draft valid first.", "error")
            return back()
        key = (id(ws.history), current.model_dump_json(), draft.model_dump_json())
        if ws.whatif is not None and ws.whatif_key == key:
            return back()  # already computed for this edit
        try:
            job = console.jobs.submit(console.owner(), "what-if", whatif_work(ws, current, draft), whatif_done(ws, key))
        except JobRefused as exc:
            flash(f"What-if not started: {exc}", "error")
            return back()
        return started(job, url_for("console.whatif", score=score or None))

    @bp.post("/whatif/upload")
    def whatif_upload() -> BaseResponse | tuple[str, int]:
        ws = console.workspace()
        crm = request.form.get("crm", "")
        upload = request.files.get("history")
        own = request.files.get("mapping")
        mapping: CrmMapping | None
        try:
            if own is not None and own.filename:
                # The export's own mapping file, for any CRM or spreadsheet; checked by the same loader.
                name = own.filename.rsplit("/", 1)[-1]
                mapping = validate(CrmMapping, read_yaml(own.read().decode("utf-8", "replace"), name), name)
            else:
                mapping = console.upload_mapping(ws, crm)
            if upload is None or not upload.filename:
                raise UploadError("choose a history file (CSV or JSON) first")
            outcome = request.form.get("outcome", "").strip()
            if not outcome:
                raise UploadError("name the outcome column (1/0, yes/no, won/lost)")
            # Read in the background: a large export takes seconds, and packed as it comes back.
            args = (
                upload.read(),
                upload.filename,
                mapping,
                outcome,
                request.form.get("outcome_date", "").strip(),
                request.form.get("date_column", "").strip(),
            )
            job = console.jobs.submit(
                console.owner(),
                "history upload",
                lambda progress: run_in_child(upload_task, args, None, progress),
                ws.use_history,
            )
        except ConfigError as exc:
            flash("; ".join(str(p) for p in exc.problems), "error")
            return whatif(), 422  # the upload is refused: the page again, with the reason
        except LeadthermError as exc:
            flash(str(exc), "error")
            return whatif(), 422
        return started(job, url_for("console.whatif"))

    @bp.post("/whatif/crm")
    def whatif_crm() -> BaseResponse:
        ws = console.workspace()
        crm = request.form.get("crm", "")
        client = console.background.get(crm)  # the console's own share of the CRM's rate
        mapping = console.mapping_of(console.current_files(), crm)
        if client is None or mapping is None:
            flash(f"{crm}: not connected", "error")
            return back()
        env = dict(console.config.env)
        outcome = console.plugin(crm).calibration.outcome

        def work(progress: Progress) -> Any:
            # Packed as it arrives: the workspace keeps the leads' values, not the pulled records.
            if console.plugin(crm).configured(env):  # the child connects on its own, on its own share
                return run_in_child(pull_task, (mapping, env, outcome, BACKGROUND_SHARE), None, progress)
            return pull(client, mapping, outcome, progress)

        try:
            job = console.jobs.submit(console.owner(), f"history pull from {crm}", work, ws.use_history)
        except JobRefused as exc:
            flash(f"{crm}: not started: {exc}", "error")
            return back()
        return started(job, url_for("console.whatif"))

    @bp.post("/whatif/calibrate")
    def whatif_calibrate() -> BaseResponse:
        ws = console.workspace()
        if ws.history is None:
            flash("Upload a history first.", "error")
            return back()
        current = console.current_rules()
        if current is None:
            flash("The rules in force do not load (edited by hand?); fix them in the YAML editor first.", "error")
            return back()
        history = ws.history
        # Exactly `leadtherm calibrate`: the same split, leakage judgement, warnings and noise verdict.
        options = Options(HOLDOUT, SEED, keep_leaky=request.form.get("keep_leaky") == "yes")

        def work(progress: Progress) -> Any:
            return run_in_child(calibrate_task, (current, options), history, progress)

        def done(result: Any) -> None:
            learned, compared, text = result
            if ws.history is history:  # not a history replaced meanwhile
                ws.learned, ws.calibrated, ws.calibrated_yaml = with_history(learned, history), compared, text

        try:
            job = console.jobs.submit(console.owner(), "calibration", work, done)
        except JobRefused as exc:
            flash(f"Calibration not started: {exc}", "error")
            return back()
        return started(job, url_for("console.whatif"))

    @bp.post("/whatif/use-calibrated")
    def use_calibrated() -> Response:
        ws = console.workspace()
        if not ws.calibrated_yaml or ws.learned is None:
            flash("Run calibrate first (rules are only offered when the history separates converters).", "error")
            return back()
        if ws.learned.warnings and request.form.get("acknowledge") != "yes":
            # Checked here, not only in the page: a leak or a noisy history must be read before it is adopted.
            flash(
                f"The learned rules carry {len(ws.learned.warnings)} warning(s): tick that you have read them first.",
                "error",
            )
            return back()
        ws.files[SCORING_FILE] = ws.calibrated_yaml
        flash("The learned rules are now your draft: preview them, then apply.", "info")
        return redirect(url_for("console.rules"))  # type: ignore[return-value]
