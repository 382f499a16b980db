"""Rules and mappings: view, edit through forms or as YAML, preview on records, apply, history, roll back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for

from integration.domain.scoring import segment_holds
from integration.domain.whatif import attributes_tested, preview
from integration.domain.written import change, written
from integration.errors import ConfigError, LeadthermError, Problem
from integration.ports.metric_names import CONSOLE_APPLIES
from integration.ports.metrics import metrics
from integration.ports.rules_store import RulesStoreError, unified_diff
from mappings.catalogue import QUALIFICATION
from mappings.documents import DocumentError, check_yaml
from mappings.grammar import (
    AT_LEAST,
    BELOW,
    COMPANY_RULES_FILE,
    EACH,
    MAX_POINTS,
    SCORING_FILE,
    mapping_file,
    named_scoring_file,
    score_of,
)
from mappings.schema import Decay, NamedScoringRules, Qualification, ScoringRules, StageRules, Thresholds, Weights
from webhooks.console.attributes import attributes_in_use
from webhooks.console.context import Console, rules_file, rules_files
from webhooks.console.edits import (
    AXES,
    CONDITIONS,
    KINDS,
    EditError,
    add_custom_attribute,
    add_rule,
    parse_condition,
    read_yaml,
    remove_rule,
    replace_rule,
    set_value,
)
from webhooks.console.merge import THEIRS, YOURS
from webhooks.console.store_status import store_status
from webhooks.console.wording import diff_lines, job_error, prefixed, rows_read, version_summary
from webhooks.console.workspace import (
    UploadError,
    Workspace,
    header_fields,
    read_samples,
    records_as_samples,
    samples_as_of,
)

PREVIEW_COLUMNS = 6  # attributes shown per record, besides id, company and title
SETTINGS = {  # form field -> path in scoring.yaml
    "weight_fit": ("weights", "fit"),
    "weight_engagement": ("weights", "engagement"),
    "half_life_days": ("decay", "half_life_days"),
    "grace_days": ("decay", "grace_days"),
    "cool": ("temperature", "cool"),
    "warm": ("temperature", "warm"),
    "hot": ("temperature", "hot"),
    "mql_score": ("stage", "mql_score"),
}
CRITERIA = QUALIFICATION
MAX_CONDITIONS = 4  # condition rows a rule's form offers; a longer compound rule is edited as YAML
AND_CONDITIONS = tuple(c for c in CONDITIONS if c != EACH)  # `each` counts units: never inside all
CHOOSE_FIRST = (
    "Another admin applied a change to the same rule or setting you edited: "
    "choose theirs or yours for each conflict first."
)


def _number(name: str) -> float:
    raw = request.form.get(name, "").strip()
    try:
        return float(raw)
    except ValueError:
        raise EditError(f"{name}: must be a number (got {raw!r})") from None


_DEFAULTS: dict[str, dict[str, Any]] = {
    "weights": Weights().model_dump(),
    "decay": Decay().model_dump(),
    "temperature": Thresholds().model_dump(),
    "stage": StageRules().model_dump(),
    "qualification": Qualification().model_dump(),
}


def _shown(value: Any) -> Any:
    return written(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def form_rules(text: str, problems: list[Problem]) -> dict[str, Any] | None:
    """What the form shows, read from the draft's YAML even where it does not load.

    A rule the loader refuses is shown with its reason and can still be edited or removed, so one
    bad entry never takes the rest of the form away. None only when the text is not a YAML mapping.
    """
    try:
        data = read_yaml(text, SCORING_FILE).data
    except EditError:
        return None
    if not isinstance(data, dict):
        return None
    shown: dict[str, Any] = {}
    for section, defaults in _DEFAULTS.items():
        given = data.get(section)
        shown[section] = {**defaults, **(given if isinstance(given, dict) else {})}
    for axis in AXES:
        rows = []
        items = data.get(axis)
        for index, item in enumerate(items if isinstance(items, list) else []):
            d = {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else {}
            prefix = f"{axis}[{index}]"
            rows.append(
                {
                    "d": d,
                    "label": d.get("label", ""),
                    "attribute": d.get("attribute", ""),
                    "points": _shown(d.get("points", "")),
                    "problems": [p.message for p in problems if p.field == prefix or p.field.startswith(f"{prefix}.")],
                }
            )
        shown[axis] = rows
    return shown


def _key(problem: Problem) -> tuple[str, str, str]:
    return problem.file, problem.field, problem.message


def refuse_new_problems(console: Console, before: dict[str, str], after: dict[str, str]) -> None:
    """A form edit the loader would refuse is not taken into the draft: EditError with the reasons.

    A value typed into a form that its attribute never holds is refused too, though `check` only
    notes one in a file (where it may be another CRM's): the form knows which values there are.
    """
    known = {_key(p) for p in [*console.problems(before), *console.value_notices(before)]}
    new = [p for p in [*console.problems(after), *console.value_notices(after)] if _key(p) not in known]
    if new:
        raise EditError("not saved: " + "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in new))


def _changed_attributes(before: ScoringRules, after: ScoringRules) -> list[str]:
    """Attributes whose rules differ between the two sets, else all tested ones: the preview's columns."""
    old = {(a, r.model_dump_json()) for r in [*before.fit, *before.engagement, *before.penalties] for a in r.attributes}
    new = {(a, r.model_dump_json()) for r in [*after.fit, *after.engagement, *after.penalties] for a in r.attributes}
    changed = list(dict.fromkeys(a for a, _ in sorted(old ^ new)))
    return (changed or attributes_tested(after))[:PREVIEW_COLUMNS]


def preview_context(console: Console, ws: Workspace, name: str = SCORING_FILE) -> dict[str, Any]:
    """The preview's rows: every sample with the rules in force and with the draft (of file `name`: a named
    score's preview shows the samples in its draft's segment)."""
    current = console.rules_of(console.current_files(), name)
    draft = console.rules_of(ws.files, name)
    if not ws.samples or draft is None or current is None:
        return {
            "rows": [],
            "columns": [],
            "draft_valid": draft is not None,
            "current_valid": current is not None,
            "ws": ws,
            "moved": 0,
            "warmer": 0,
        }
    samples = ws.samples
    if isinstance(draft, NamedScoringRules):
        segment, moment = tuple(draft.segment), samples_as_of(ws.samples)
        samples = [sample for sample in samples if segment_holds(segment, sample.lead.values, moment)]
    rows = preview(samples, current, draft, samples_as_of(ws.samples))
    rows.sort(key=lambda r: (not r.moved, r.sample.lead.record_id))
    moved = [r for r in rows if r.before.temperature is not r.after.temperature]
    return {
        "rows": rows,
        "columns": _changed_attributes(current, draft),
        "draft_valid": True,
        "current_valid": True,
        "ws": ws,
        "moved": sum(1 for r in rows if r.moved),
        "warmer": sum(1 for r in moved if r.after.temperature.rank > r.before.temperature.rank),
        "cooler": sum(1 for r in moved if r.after.temperature.rank < r.before.temperature.rank),
        "as_of": samples_as_of(ws.samples),
    }


def draft_context(console: Console, ws: Workspace) -> dict[str, Any]:
    current = console.current_files()
    return {
        "ws": ws,
        "conflicts": ws.conflicts,
        "problems": console.problems(ws.files),
        "notices": console.value_notices(ws.files),
        "diff": unified_diff(current, ws.files),
        "head": console.store.head(),
    }


def _score() -> str:
    """The named score a request is about (`?score=` on a page, a hidden `score` on a form); empty: the default."""
    return (request.values.get("score") or "").strip()


def _answer(console: Console, ws: Workspace, back: str, error: str | None = None) -> Response:
    """For the page's script: the fragments to swap in; for a plain form post: back to the page."""
    if request.headers.get("X-Requested-With") == "fetch":
        draft = draft_context(console, ws)
        name = SCORING_FILE if not _score() else named_scoring_file(_score())
        return jsonify(
            problems=render_template("_problems.html", **draft, error=error),
            status=render_template("_draft_status.html", **draft),
            preview=render_template("_preview.html", **preview_context(console, ws, name)),
        )
    if error:
        flash(error, "error")
    return redirect(back)  # type: ignore[return-value]


def add_routes(bp: Blueprint, console: Console) -> None:
    @bp.app_context_processor
    def rules_store() -> dict[str, object]:
        # A callable: the store's marks are read only by the pages that show them.
        return {
            "rules_store_status": lambda: store_status(console.store, console.now()),
            "change": change,
            "job_error": job_error,
        }

    bp.add_app_template_filter(written, "written")
    bp.add_app_template_filter(diff_lines, "diff_lines")

    def edit(
        back: Callable[[], str], apply: Callable[[Workspace], None], checked: bool = True, done: str = ""
    ) -> Response:
        """One edit of the draft; a checked one (the forms') is refused whole when it adds a problem.

        `done` is said once the edit is in the draft (for a form whose result is not on the page it posts from).
        """
        ws = console.workspace()
        if ws.conflicts:
            return _answer(console, ws, back(), CHOOSE_FIRST)
        before = dict(ws.files)
        try:
            apply(ws)
            if checked:
                refuse_new_problems(console, before, ws.files)
        except (EditError, ConfigError) as exc:
            ws.files = before
            return _answer(console, ws, back(), str(exc))
        if done:
            flash(done, "info")
        return _answer(console, ws, back())

    @bp.get("/rules")
    def rules() -> str:
        ws = console.workspace()
        context = draft_context(console, ws)
        score = _score()
        name = rules_file(ws.files, score)
        own = [p for p in context["problems"] if p.file == name]  # a rule's problems, not another file's
        return render_template(
            "rules.html",
            rules=form_rules(ws.files.get(name, ""), own),
            score=score,
            rules_file=name,
            scores=[s for n in rules_files(ws.files) if (s := score_of(n)) is not None],
            attributes=attributes_in_use(ws.files),
            axes=AXES,
            conditions=CONDITIONS,
            and_conditions=AND_CONDITIONS,
            max_conditions=MAX_CONDITIONS,
            criteria=CRITERIA,
            crms=console.crms(ws.files),
            connected=sorted(console.config.clients),
            **context,
            preview=preview_context(console, ws, name),
        )

    def to_rules() -> str:
        return url_for("console.rules", score=_score() or None)

    @bp.post("/rules/points")
    def rule_points() -> Response:
        def change(ws: Workspace) -> None:
            file = rules_file(ws.files, _score())
            axis, index = request.form.get("axis", ""), int(request.form.get("index", "-1"))
            if axis not in AXES:
                raise EditError("axis: must be fit, engagement or penalties")
            ws.files[file] = set_value(ws.files[file], (axis, index, "points"), _number("points"))

        return edit(to_rules, change)

    @bp.post("/rules/settings")
    def rule_settings() -> Response:
        def change(ws: Workspace) -> None:
            file = rules_file(ws.files, _score())
            text = ws.files[file]
            for name, path in SETTINGS.items():
                if request.form.get(name, "").strip():
                    value = _number(name)
                    text = set_value(text, path, int(value) if value.is_integer() else value)
            if request.form.get("criteria_form"):
                required = [c for c in CRITERIA if request.form.get(f"require_{c}")]
                text = set_value(text, ("qualification", "required"), required)
            ws.files[file] = text

        return edit(to_rules, change)

    def condition_from_form(suffix: str, kinds: dict[str, str]) -> dict[str, Any] | None:
        """One condition row of the form (`attribute`, `attribute_2`...); None when its attribute is left empty."""
        attribute = request.form.get(f"attribute{suffix}", "").strip()
        if not attribute:
            return None
        condition = request.form.get(f"condition{suffix}", "")
        value = request.form.get(f"value{suffix}", "")
        found: dict[str, Any] = {
            "attribute": attribute,
            condition: parse_condition(condition, value, kinds.get(attribute, "text")),
        }
        if condition == AT_LEAST and request.form.get(f"below{suffix}", "").strip():
            found[BELOW] = _number(f"below{suffix}")  # a range: at_least <= value < below
        return found

    def rule_from_form(ws: Workspace) -> dict[str, Any]:
        kinds = {a.name: a.kind for a in attributes_in_use(ws.files)}
        first = condition_from_form("", kinds) or {"attribute": ""}
        rows = (condition_from_form(f"_{n}", kinds) for n in range(2, MAX_CONDITIONS + 1))
        more = [c for c in rows if c is not None]
        conditions = [first, *more]
        named = " and ".join(" ".join([c["attribute"], *list(c)[1:2]]) for c in conditions)  # "visits at_least"
        label = request.form.get("label", "").strip() or named
        if more:  # rows after the first make a compound rule: points once when all of them hold
            return {"label": label, "all": conditions, "points": _number("points")}
        rule: dict[str, Any] = {"label": label, **first, "points": _number("points")}
        if EACH in first and request.form.get("max_points", "").strip():
            rule[MAX_POINTS] = _number("max_points")
        return rule

    @bp.post("/rules/add")
    def rule_add() -> Response:
        def change(ws: Workspace) -> None:
            file = rules_file(ws.files, _score())
            ws.files[file] = add_rule(ws.files[file], request.form.get("axis", ""), rule_from_form(ws))

        return edit(to_rules, change)

    @bp.post("/rules/edit")
    def rule_edit() -> Response:
        def change(ws: Workspace) -> None:
            file = rules_file(ws.files, _score())
            axis, index = request.form.get("axis", ""), int(request.form.get("index", "-1"))
            ws.files[file] = replace_rule(ws.files[file], axis, index, rule_from_form(ws))

        return edit(to_rules, change)

    @bp.post("/rules/remove")
    def rule_remove() -> Response:
        def change(ws: Workspace) -> None:
            file = rules_file(ws.files, _score())
            axis, index = request.form.get("axis", ""), int(request.form.get("index", "-1"))
            ws.files[file] = remove_rule(ws.files[file], axis, index)

        return edit(to_rules, change, checked=False)

    @bp.get("/yaml/<name>")
    def yaml_file(name: str) -> str:
        ws = console.workspace()
        if name not in ws.files:
            abort(404, f"no file {name}")
        return render_template(
            "yaml.html",
            name=name,
            text=ws.files[name],
            **draft_context(console, ws),
            preview=preview_context(console, ws),
        )

    @bp.post("/yaml/<name>")
    def yaml_save(name: str) -> Response | tuple[str, int]:
        text = request.form.get("text", "").replace("\r\n", "\n")
        try:
            check_yaml(text)
        except DocumentError as exc:
            # Over a bound (alias, nesting): refused, not kept; the draft keeps its last good text.
            return _refused(name, text, f"{name}: {exc}; not kept in the draft")
        except yaml.YAMLError:
            pass  # a syntax error is kept in the draft: the problems list locates it

        def change(ws: Workspace) -> None:
            if name not in ws.files:
                abort(404, f"no file {name}")
            ws.files[name] = text

        # The editor keeps what was typed, problems and all: they are shown at their lines.
        return edit(lambda: url_for("console.yaml_file", name=name), change, checked=False)

    def _refused(name: str, text: str, reason: str) -> Response | tuple[str, int]:
        ws = console.workspace()
        if name not in ws.files:
            abort(404, f"no file {name}")
        if request.headers.get("X-Requested-With") == "fetch":
            answer = _answer(console, ws, "", reason)
            answer.status_code = 422
            return answer
        flash(reason, "error")
        page = render_template(
            "yaml.html", name=name, text=text, **draft_context(console, ws), preview=preview_context(console, ws)
        )
        return page, 422

    @bp.post("/draft/discard")
    def discard() -> Response:
        console.discard()
        flash("Draft discarded: you are editing the rules in force again.", "info")
        return redirect(url_for("console.rules"))  # type: ignore[return-value]

    @bp.post("/draft/choose")
    def choose() -> Response:
        choice = request.form.get("choice", "")
        if choice not in (THEIRS, YOURS):
            abort(400, "choice: theirs or yours")
        console.choose(request.form.get("key", ""), choice)
        return redirect(url_for("console.rules"))  # type: ignore[return-value]

    @bp.get("/mappings")
    def mappings() -> str:
        ws = console.workspace()
        crms = console.crms(ws.files)
        return render_template(
            "mappings.html",
            crms=crms,
            parsed={crm: console.mapping_of(ws.files, crm) for crm in crms},
            attributes=attributes_in_use(ws.files),
            kinds=KINDS,
            **draft_context(console, ws),
        )

    @bp.post("/mappings/custom")
    def custom_attribute() -> Response:
        def change(ws: Workspace) -> None:
            crm = request.form.get("crm", "")
            file = mapping_file(crm)
            if file not in ws.files or file == SCORING_FILE:
                raise EditError(f"crm: no mapping file {file}")
            spec = {
                "field": request.form.get("field", "").strip(),
                "kind": request.form.get("kind", ""),
                "decays": bool(request.form.get("decays")),
                "label": request.form.get("label", "").strip(),
            }
            if not spec["field"]:
                raise EditError("field: name the CRM field the attribute is read from")
            ws.files[file] = add_custom_attribute(ws.files[file], request.form.get("name", "").strip(), spec)

        name = request.form.get("name", "").strip()
        file = mapping_file(request.form.get("crm", ""))
        declared = f"Declared {name} in the draft of {file}: apply the draft to use it."
        return edit(lambda: url_for("console.mappings"), change, done=declared)

    @bp.post("/records")
    def upload_records() -> Response | tuple[str, int]:
        ws = console.workspace()
        crm = request.form.get("crm", "")
        upload = request.files.get("export")
        try:
            mapping = console.upload_mapping(ws, crm)
            if upload is None or not upload.filename:
                raise UploadError("choose an export file (CSV or JSON) first")
            data = upload.read()
            wrong_crm(ws, data, upload.filename, crm, mapping.id_field)
            read = read_samples(data, upload.filename, mapping, console.plugin(crm).flatten)
            if not read.samples and read.skipped:
                raise UploadError(f"no row could be read ({read.skipped[0]}); the records shown before are kept")
        except LeadthermError as exc:
            # The samples shown before stay: a refused upload never wipes them.
            flash(prefixed(getattr(upload, "filename", "") or "upload", str(exc)), "error")
            return rules(), 422  # the upload is refused: the page again, with the reason
        ws.samples, ws.samples_crm, ws.skipped = read.samples, crm, read.skipped
        ws.samples_source = f"{upload.filename} ({rows_read(len(read.samples), read.rows)})"
        return redirect(url_for("console.rules"))  # type: ignore[return-value]

    def wrong_crm(ws: Workspace, data: bytes, filename: str, crm: str, id_field: str) -> None:
        """An export without the CRM's record id is another CRM's (or none): UploadError naming it as the CLI does."""
        fields = header_fields(data, filename, console.plugin(crm).flatten)
        if fields is None or id_field in fields:
            return
        message = f"no {id_field} column (the {crm} record id), so not a {crm} export"
        for other in console.crms(ws.files):
            if other == crm:
                continue
            try:
                theirs = console.upload_mapping(ws, other)
                other_fields = header_fields(data, filename, console.plugin(other).flatten)
            except LeadthermError:
                continue
            if other_fields and theirs.id_field in other_fields:
                message += f'; its header looks like a {other} export: choose {other} under "from"'
                break
        raise UploadError(message + "; the records shown before are kept")

    @bp.post("/records/crm")
    def pull_records() -> Response:
        ws = console.workspace()
        crm = request.form.get("crm", "")
        client = console.config.clients.get(crm)
        mapping = console.mapping_of(console.current_files(), crm)
        if client is None or mapping is None:
            flash(f"{crm}: not connected", "error")
            return redirect(url_for("console.rules"))  # type: ignore[return-value]
        try:
            page = client.page(mapping.objects[0], None, 200)
        except LeadthermError as exc:
            flash(prefixed(crm, str(exc)), "error")
            return redirect(url_for("console.rules"))  # type: ignore[return-value]
        ws.samples, ws.skipped = records_as_samples(page.records, mapping, console.plugin(crm).flatten)
        ws.samples_crm, ws.samples_source = crm, f"{crm} ({rows_read(len(ws.samples), len(page.records))})"
        return redirect(url_for("console.rules"))  # type: ignore[return-value]

    @bp.post("/apply")
    def apply() -> Response:
        ws = console.workspace()
        if ws.conflicts:
            flash(CHOOSE_FIRST, "error")
            return redirect(url_for("console.rules"))  # type: ignore[return-value]
        current = console.current_files()
        changed = {n: t for n, t in ws.files.items() if current.get(n) != t}
        if not changed:
            flash("Nothing to apply: the draft is the rules in force.", "info")
            return redirect(url_for("console.rules"))  # type: ignore[return-value]
        try:
            # The store refuses a draft based on an older head (StaleDraft), under its lock.
            note = request.form.get("note", "").strip()[:200]
            made = console.store.apply(changed, console.author(), note, base=ws.base_head)
        except ConfigError as exc:
            flash(f"Not applied: {len(exc.problems)} problem(s); see them inline.", "error")
            return redirect(url_for("console.rules"))  # type: ignore[return-value]
        except RulesStoreError as exc:
            flash(f"Not applied: {exc}", "error")
            return redirect(url_for("console.rules"))  # type: ignore[return-value]
        metrics().count(CONSOLE_APPLIES)
        ws.files, ws.base_head = console.store.current(), made.number
        ws.base = dict(ws.files)  # the draft is the head now: the store keeps none
        if console.config.on_apply is not None:
            console.config.on_apply(made.number)
        message = store_status(console.store, console.now()).applied(made.number)
        if any(score_of(name) is None and name not in (SCORING_FILE, COMPANY_RULES_FILE) for name in changed):
            # Mappings decide which fields are fetched: the service reads them once, at start.
            message += " Mapping changes take effect when serve is restarted."
        flash(message, "info")
        return redirect(url_for("console.history"))  # type: ignore[return-value]

    @bp.get("/history")
    def history() -> str:
        return render_template("history.html", versions=console.store.history(), head=console.store.head())

    @bp.get("/history/<int:number>")
    def version(number: int) -> str:
        try:
            found = console.store.version(number)
        except RulesStoreError as exc:
            abort(404, str(exc))
        try:
            summary = version_summary(console.store.version(number - 1).files, found.files) if number > 0 else []
        except RulesStoreError:
            summary = []  # the first version: nothing before it to compare with
        return render_template("version.html", version=found, head=console.store.head(), summary=summary)

    @bp.post("/history/<int:number>/rollback")
    def rollback(number: int) -> Response:
        try:
            made = console.store.rollback(number, console.author())
        except (RulesStoreError, ConfigError) as exc:
            flash(f"Not rolled back: {exc}", "error")
            return redirect(url_for("console.history"))  # type: ignore[return-value]
        console.reset()
        if console.config.on_apply is not None:
            console.config.on_apply(made.number)
        flash(f"Rolled back to version {number}, applied as version {made.number}.", "info")
        return redirect(url_for("console.history"))  # type: ignore[return-value]
