"""What-if on an outcome history: current against edited (or calibrated) rules, side by side."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from integration.calibration.history import CRM_OUTCOMES, CalibrationError, pull_history
from integration.errors import ConfigError, LeadthermError
from integration.rules_provider import SCORING_FILE
from integration.whatif import what_if
from mappings.loader import read_yaml, validate
from mappings.schema import CrmMapping
from webhooks.console.charts import bands_chart, moves_chart
from webhooks.console.context import Console
from webhooks.console.workspace import UploadError, read_uploaded_history

HOLDOUT, SEED = 0.3, 7


def add_routes(bp: Blueprint, console: Console) -> None:
    @bp.get("/whatif")
    def whatif() -> str:
        ws = console.workspace()
        draft = console.rules_of(ws.files)
        result = None
        current = console.current_rules()
        if ws.history is not None and draft is not None and current is not None:
            key = (id(ws.history), current.model_dump_json(), draft.model_dump_json())
            if ws.whatif is None or ws.whatif_key != key:  # the same edit on the same history: computed once
                try:
                    ws.whatif, ws.whatif_key = what_if(ws.history, current, draft, HOLDOUT, SEED), key
                except CalibrationError as exc:  # e.g. the most recent leads hold no conversion to measure on
                    flash(f"What-if: {exc}", "error")
            result = ws.whatif if ws.whatif_key == key else None
        return render_template(
            "whatif.html",
            ws=ws,
            result=result,
            draft_valid=draft is not None,
            crms=console.crms(ws.files),
            connected=sorted(c for c in console.config.clients if c in CRM_OUTCOMES),
            bands_chart=bands_chart,
            moves_chart=moves_chart,
        )

    def back() -> Response:
        return redirect(url_for("console.whatif"))  # type: ignore[return-value]

    @bp.post("/whatif/upload")
    def whatif_upload() -> Response | tuple[str, int]:
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
            history = read_uploaded_history(
                upload.read(),
                upload.filename,
                mapping,
                outcome,
                request.form.get("outcome_date", "").strip(),
                request.form.get("date_column", "").strip(),
            )
        except ConfigError as exc:
            flash("; ".join(str(p) for p in exc.problems), "error")
            return whatif(), 422  # the upload is refused: the page again, with the reason
        except LeadthermError as exc:
            flash(str(exc), "error")
            return whatif(), 422
        ws.use_history(history)
        return back()

    @bp.post("/whatif/crm")
    def whatif_crm() -> Response:
        ws = console.workspace()
        crm = request.form.get("crm", "")
        client = console.config.clients.get(crm)
        mapping = console.mapping_of(console.current_files(), crm)
        if client is None or mapping is None or crm not in CRM_OUTCOMES:
            flash(f"{crm}: not connected", "error")
            return back()
        try:
            history = pull_history(client, mapping, console.plugin(crm).flatten, CRM_OUTCOMES[crm])
        except LeadthermError as exc:
            flash(f"{crm}: {exc}", "error")
            return back()
        ws.use_history(history)
        return back()

    @bp.post("/whatif/calibrate")
    def whatif_calibrate() -> Response:
        from integration.calibration.session import Options, run
        from integration.calibration.writer import scoring_yaml

        ws = console.workspace()
        if ws.history is None:
            flash("Upload a history first.", "error")
            return back()
        current = console.current_rules()
        if current is None:
            flash("The rules in force do not load (edited by hand?); fix them in the YAML editor first.", "error")
            return back()
        # Exactly `leadtherm calibrate`: the same split, leakage judgement, warnings and noise verdict.
        options = Options(HOLDOUT, SEED, keep_leaky=request.form.get("keep_leaky") == "yes")
        try:
            learned = run(ws.history, current, options)
        except CalibrationError as exc:
            flash(f"Calibration failed: {exc}", "error")
            return back()
        ws.learned = learned
        ws.calibrated = what_if(ws.history, current, learned.calibration.rules, HOLDOUT, SEED)
        ws.calibrated_yaml = scoring_yaml(learned.calibration, SEED, HOLDOUT) if learned.writes_rules else ""
        return back()

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
