"""The `leadtherm` command line: the app, its entry point and the one exit-code rule.

Each command lives in its own module and is imported only when it runs (integration.cli.commands):
`leadtherm check` does not pay for rich, the server or the calibration.
"""

from __future__ import annotations

import gc
import sys
from typing import Annotated

import typer

from integration import __version__
from integration.cli.commands import LazyGroup
from integration.cli.exits import EXIT_USAGE, exit_code
from integration.errors import ConfigError, LeadthermError

__all__ = ["app", "exit_code", "main"]

app = typer.Typer(
    cls=LazyGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: `--summary / --no-summary`, not `<bool>` on every flag
    help="Lead qualification inside your CRM.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"leadtherm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Score, classify and explain leads in your CRM."""


def _report(exc: LeadthermError | ConfigError) -> None:
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
    else:
        typer.echo(f"error: {exc}", err=True)


def _usage(exc: typer.TyperException) -> None:
    if type(exc).__name__ == "NoArgsIsHelpError":  # `leadtherm` or `leadtherm dlq` alone: the help is the answer
        typer.echo(exc.format_message(), err=True)
        return
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "leadtherm"
    typer.echo(f"error: {exc.format_message()} (see `{command} --help`)", err=True)


def _fold_crm_options(args: list[str]) -> list[str]:
    """`--crm Acme` is `--crm acme` for every command, the plugins' own included."""
    if not any(arg == "--crm" or arg.startswith("--crm=") for arg in args):
        return list(args)
    from integration.composition.plugins import crm_name  # reads the installed CRMs: only when one is named

    folded = list(args)
    for i, arg in enumerate(folded):
        if arg == "--":
            break
        if arg == "--crm" and i + 1 < len(folded):
            folded[i + 1] = crm_name(folded[i + 1])
        elif arg.startswith("--crm="):
            folded[i] = "--crm=" + crm_name(arg.removeprefix("--crm="))
    return folded


def main() -> None:
    """Console-script entry: typed errors become one clear message and the documented exit code."""
    try:
        code = app(args=_fold_crm_options(sys.argv[1:]), standalone_mode=False)
    except (LeadthermError, ConfigError) as exc:  # ConfigError is the mappings package's own
        _report(exc)
        sys.exit(exit_code(exc))
    except typer.TyperException as exc:  # click's usage errors (unknown option, bad value): one line
        _usage(exc)
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.exit(130)
    finally:
        # The process ends here and its objects with it: the interpreter's last garbage collection,
        # over every object pydantic, typer and the mappings made, cost `leadtherm check` about 40 ms
        # of its 0.3 s. Frozen, they are freed as the modules are torn down, without that scan.
        gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)
