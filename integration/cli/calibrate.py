"""`leadtherm calibrate`: learn the points of scoring.yaml from outcomes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml

from integration.cli.consoles import err, out
from integration.cli.exits import EXIT_FAILED, EXIT_USAGE
from integration.cli.inputs import open_export_file
from integration.cli.options import EncodingOption, MappingsOption, env, utc
from integration.composition.plugins import UnknownPlugin, crm_name, crm_names, load_crm
from mappings.grammar import calibrated_file, named_scoring_file
from mappings.loader import load_mapping, load_named_score, load_rules, named_score_files, read_yaml, validate
from mappings.schema import CrmMapping, NamedScoringRules, ScoreDefinition

DEFAULT_OUT = Path("scoring.calibrated.yaml")


def _named_score(name: str, mappings: Path | None) -> ScoreDefinition:
    files = named_score_files(mappings)
    if name not in files:
        known = ", ".join(files) or "none"
        raise typer.BadParameter(
            f"no named score {name!r} (no scoring.{name}.yaml); known: {known}", param_hint="--score"
        )
    return load_named_score(name, files[name])


def with_segment(text: str, score: ScoreDefinition) -> str:
    """Calibrated rules as a named score's file: the learned rules and the score's segment, validated."""
    lines = ["", f"segment:              # kept from scoring.{score.name}.yaml: the leads this score applies to"]
    for condition in score.segment:
        data = condition.model_dump(by_alias=True, exclude_none=True)
        lines.append("  - " + yaml.safe_dump(data, default_flow_style=True, width=10**6, sort_keys=False).strip())
    named = text + "\n".join(lines) + "\n"
    written = validate(NamedScoringRules, read_yaml(named, named_scoring_file(score.name)), "calibrated")
    if written.segment != list(score.segment):
        raise AssertionError("the calibrated named score does not read back with its segment")
    return named


def calibrate(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE|CRM", help="History export (CSV or JSON) with an outcome column, or an installed CRM's name."
        ),
    ],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Mapping file for the export's columns (a CRM: its own).")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(help="Column that is 1/0, true/false or yes/no (converted / won); for a CRM, a Lead attribute."),
    ] = None,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.9, help="Share kept aside to measure honestly.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Same file and seed, same rules (byte for byte).")] = 7,
    output: Annotated[Path, typer.Option("--out", help="Where to write the calibrated rules.")] = DEFAULT_OUT,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report with charts here.")] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Decay engagement as of this time (default: the history's latest engagement)."),
    ] = None,
    outcome_date: Annotated[
        str | None, typer.Option("--outcome-date", help="Column with each lead's outcome date: decay as of it.")
    ] = None,
    date_column: Annotated[
        str | None,
        typer.Option(
            "--date-column",
            metavar="COL",
            help="Column with each lead's creation date: measure on the most recent leads (a CRM: its own).",
        ),
    ] = None,
    balanced: Annotated[bool, typer.Option(help="Weigh converters and the rest equally (rare conversions).")] = False,
    keep_leaky: Annotated[bool, typer.Option(help="Learn from columns that look like leakage anyway.")] = False,
    force: Annotated[
        bool, typer.Option(help="Write the rules even when the history does not separate converters.")
    ] = False,
    encoding: EncodingOption = None,
    mappings: MappingsOption = None,
    named: Annotated[
        str | None,
        typer.Option(
            "--score",
            metavar="NAME",
            help="Learn a named score's rules (scoring.NAME.yaml) on the leads in its segment only "
            "(default --out: scoring.NAME.calibrated.yaml).",
        ),
    ] = None,
) -> None:
    """Learn the points of scoring.yaml from outcomes you already have, with a holdout report."""
    from integration.calibration.history import CalibrationError, History, pull_history, read_history
    from integration.calibration.report import html_report, print_summary
    from integration.calibration.session import Options, run
    from integration.calibration.writer import scoring_yaml, write
    from integration.service.guard import GuardedClient
    from integration.service.ratelimit import TokenBucket
    from mappings.loader import load_file

    moment = utc(as_of) if as_of else None
    score = None if named is None else _named_score(named, mappings)
    if score is not None and output == DEFAULT_OUT:
        output = Path(calibrated_file(score.name))
    try:
        current = load_rules(mappings) if score is None else score.rules
        history: History
        if not file.exists() and crm_name(str(file)) in crm_names():
            crm = crm_name(str(file))
            plugin = load_crm(crm)
            crm_mapping = load_file(CrmMapping, mapping) if mapping else load_mapping(crm, mappings)
            settings = env()
            client = GuardedClient(
                plugin.client(crm_mapping, settings), TokenBucket.for_window(*plugin.rate_limit(settings))
            )
            source = plugin.calibration
            history = pull_history(
                client, crm_mapping, plugin.flatten, outcome or source.outcome, moment, created_field=source.created
            )
        else:
            if not file.exists() and not file.suffix and len(file.parts) == 1:
                raise UnknownPlugin("CRM", str(file), crm_names())  # neither a file nor a CRM: a CRM was meant
            export = open_export_file(file, encoding)  # a missing or undecodable file: the first to fix
            if mapping is None or outcome is None:
                raise CalibrationError(f"{file}: a history file needs --mapping (for its columns) and --outcome COLUMN")
            crm_mapping = load_file(CrmMapping, mapping)
            history = read_history(file, crm_mapping, outcome, outcome_date, moment, export.encoding, date_column)
        if score is not None:
            from integration.domain.whatif import in_segment

            history = in_segment(history, score.segment)
        found = run(history, current, Options(holdout, seed, balanced, keep_leaky, force))
        text = scoring_yaml(found.calibration, seed, holdout) if found.writes_rules else None
        if text is not None and score is not None:
            text = with_segment(text, score)
    except CalibrationError as exc:  # bad input, not a failed job: the person must change the file or options
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    print_summary(out, found)
    for warning in found.warnings:
        err.print(f"warning: {warning}", style="yellow", markup=False)
    if report is not None:
        report.write_text(html_report(found, seed), encoding="utf-8")
    if text is None:  # a chance-level model is not rules to ship: the job did not produce what was asked
        err.print(f"no rules written to {output}" + (f"; the report is {report}" if report else ""), markup=False)
        raise typer.Exit(EXIT_FAILED)
    write(output, text)
    out.print(f"wrote {output}" + (f" and {report}" if report else ""), markup=False)
