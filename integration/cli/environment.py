"""`leadtherm check --env`: every setting, where its value came from, and every problem at once."""

from __future__ import annotations

from pathlib import Path

import typer

from integration.cli.exits import EXIT_FAILED
from integration.composition.plugins import backend_names, load_crm
from integration.composition.runtime import configured_crms, nothing_configured
from integration.composition.settings import CORE, Settings, SettingState, read_settings
from integration.errors import ConfigError, LeadthermError
from mappings.loader import load_mapping


def crm_problems(settings: Settings, crm: str, mappings: Path | None) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a configured CRM: what its plugin refuses, and routes that cannot verify."""
    plugin = load_crm(crm)
    problems: list[str] = []
    warnings: list[str] = []
    try:
        plugin.rate_limit(settings)
    except LeadthermError as exc:
        problems.append(f"{crm}: {exc}")
    try:
        routes = plugin.routes(load_mapping(crm, mappings), settings)
    except ConfigError as exc:
        problems += [f"{crm}: {problem}" for problem in exc.problems]
    except LeadthermError as exc:
        problems.append(f"{crm}: {exc}")
    else:
        warnings += [f"{crm}: {r.path} cannot verify deliveries ({why})" for r in routes if (why := r.cannot_verify())]
    return problems, warnings


def environment_report(settings: Settings, mappings: Path | None) -> tuple[list[SettingState], list[str], list[str]]:
    """Every setting's state, every problem, every warning: nothing stops at the first."""
    in_use = configured_crms(settings)
    states = settings.states(in_use)
    problems = [s.problem for s in states if s.problem]
    warnings: list[str] = []
    backend = settings.value("LEADTHERM_BACKEND") or ""
    if backend not in backend_names():
        problems.append(f"LEADTHERM_BACKEND: {backend!r} is not an installed backend ({', '.join(backend_names())})")
    if not in_use:
        problems.append(str(nothing_configured()))
    # A CRM not in use but with settings of its own set is checked too: they are meant for something.
    touched = {s.owner for s in states if s.source == "environment"}
    for crm in [*in_use, *sorted(touched - {*in_use, CORE})]:
        found, warned = crm_problems(settings, crm, mappings)
        problems += found
        warnings += warned
    return states, problems, warnings


def check_environment(mappings: Path | None) -> None:
    settings = read_settings()  # validated below, every problem reported rather than raised
    states, problems, warnings = environment_report(settings, mappings)
    width = max(len(s.setting.name) for s in states)
    owners = max(len(s.owner) for s in states)
    rows = [("setting", "owner", "from", "value")]
    rows += [(s.setting.name, s.owner, s.source, s.shown) for s in states]
    for name, owner, source, shown in rows:
        typer.echo(f"{name:<{width}}  {owner:<{owners}}  {source:<11}  {shown}".rstrip())
    in_use = configured_crms(settings)
    typer.echo(f"configured CRMs: {', '.join(in_use) or 'none'}")
    for warning in warnings:
        typer.echo(f"{warning} (warning)", err=True)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found", err=True)
        raise typer.Exit(EXIT_FAILED)
