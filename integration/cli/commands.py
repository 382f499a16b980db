"""Which module holds each command, so `leadtherm` imports only the one it runs.

`leadtherm --help` lists every command with its one-line help and imports none of them: the core's
lines are declared here (a test holds them equal to the commands' own docstrings), a plugin command's
line is read from its source without running it (importing `serve` would load Flask, waitress, grpc).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer import _click
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo

from integration.composition.installed import installed

COMMAND_GROUP = "leadtherm.commands"  # the same group integration.composition.plugins reads


@dataclass(frozen=True)
class LazyCommand:
    """A command by the `module:attribute` that defines it, and the line `--help` shows for it."""

    name: str
    target: str
    help: str


# The core's commands in the order `--help` lists them; the plugins' follow, then the core's groups.
CORE_COMMANDS = (
    LazyCommand(
        "check",
        "integration.cli.check:check",
        "Validate scoring.yaml and each CRM's mapping file; one line per problem with file, line and field.",
    ),
    LazyCommand(
        "score",
        "integration.cli.score:score",
        "Score a CRM export offline through the same mappings the live integration uses.",
    ),
    LazyCommand(
        "sweep",
        "integration.cli.sweep:sweep",
        "Re-assess the records whose temperature is due to drop, and write what changed.",
    ),
    LazyCommand(
        "backfill",
        "integration.cli.backfill:backfill_command",
        "Score every existing record once; resumable after Ctrl-C or a crash.",
    ),
    LazyCommand(
        "explain",
        "integration.cli.explain:explain",
        "Print the last assessment of a record: points per rule, temperature, stage, history.",
    ),
    LazyCommand(
        "setup",
        "integration.cli.crm_setup:setup",
        "Create the output fields in the CRM (idempotent) and print the webhook setup to do by hand.",
    ),
    LazyCommand(
        "calibrate",
        "integration.cli.calibrate:calibrate",
        "Learn the points of scoring.yaml from outcomes you already have, with a holdout report.",
    ),
    LazyCommand(
        "listen",
        "integration.cli.listen:listen",
        "Run a CRM's background intakes (e.g. change data capture): queue what they read, resume where they stopped.",
    ),
)
CORE_GROUPS = (LazyCommand("dlq", "integration.cli.dlq:dlq", "Inspect and retry what could not be processed."),)


def plugin_commands() -> list[LazyCommand]:
    """The commands installed packages add (serve, console, demo, ...), not loaded: their help read from source."""
    core = {c.name for c in (*CORE_COMMANDS, *CORE_GROUPS)}
    found: dict[str, LazyCommand] = {}
    for ep in installed(COMMAND_GROUP):
        if ep.name not in core and ep.name not in found:
            found[ep.name] = LazyCommand(ep.name, ep.value, docstring_line(ep.value))
    return list(found.values())


def docstring_line(target: str) -> str:
    """The first docstring line of the function `module:attribute` names, read without importing the module.

    Empty when the source cannot be found or parsed: the command still runs, it is only listed bare.
    """
    module, _, attribute = target.partition(":")
    source = _source_file(module)
    if source is None:
        return ""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == attribute:
            doc = ast.get_docstring(node)
            return doc.strip().splitlines()[0] if doc else ""
    return ""


def _source_file(module: str) -> Path | None:
    """Where `module` is, found through its top-level package alone (finding that runs no code of it)."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin else None
    for base in spec.submodule_search_locations or ():
        for candidate in (Path(base, *rest).with_suffix(".py"), Path(base, *rest, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def load(command: LazyCommand) -> _click.Command:
    """Import the command's module and build the click command typer would have built for it."""
    module, _, attribute = command.target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        group = get_group(found)
        group.name = command.name
        return group
    return get_command_from_info(
        CommandInfo(name=command.name, callback=found), pretty_exceptions_short=True, rich_markup_mode=None
    )


class LazyGroup(TyperGroup):
    """The `leadtherm` group: lists every command, imports one only when it runs (or shows its own help)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.lazy = {c.name: c for c in (*CORE_COMMANDS, *CORE_GROUPS)}
        self.plugins_listed = False  # the entry points are read when a listing or an unknown name needs them

    def _with_plugins(self) -> dict[str, LazyCommand]:
        if not self.plugins_listed:
            for command in plugin_commands():
                self.lazy.setdefault(command.name, command)
            self.plugins_listed = True
        return self.lazy

    def list_commands(self, ctx: _click.Context) -> list[str]:
        lazy = self._with_plugins()
        groups = [c.name for c in CORE_GROUPS]
        ordered = [*(name for name in lazy if name not in groups), *groups]
        return [*ordered, *(name for name in self.commands if name not in lazy)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        lazy = self.lazy if cmd_name in self.lazy else self._with_plugins()  # a core name: no entry points read
        if cmd_name not in lazy:
            return None
        command = load(lazy[cmd_name])
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """The help lines as declared: listing the commands loads none of them."""
        lazy = self._with_plugins()
        rows: list[tuple[str, str]] = []
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if not loaded.hidden:
                    rows.append((name, loaded.get_short_help_str(limit)))
            else:
                rows.append((name, _click.utils.make_default_short_help(lazy[name].help, limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
