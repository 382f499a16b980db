"""`leadtherm` imports only the command it runs: the help lists every command without loading any."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.packaged_copy import copy_packaged
from integration.cli.commands import CORE_COMMANDS, CORE_GROUPS, LazyCommand, docstring_line, load, plugin_commands

# Prints the modules a `leadtherm ARGS` run imported, as JSON on the last line of stdout.
IMPORTED_BY = """
import json, sys
sys.argv = ["leadtherm", *sys.argv[1:]]
from integration.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""
COMMAND_MODULES = {c.target.partition(":")[0] for c in (*CORE_COMMANDS, *CORE_GROUPS)}


def imported_by(*args: str) -> tuple[set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED_BY, *args], capture_output=True, text=True, timeout=60, check=False
    )
    *printed, modules = done.stdout.splitlines()
    return set(json.loads(modules)), "\n".join(printed)


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    modules, printed = imported_by("--help")
    listed = {line.split()[0] for line in printed.split("Commands:")[1].splitlines() if line.strip()}
    assert {c.name for c in (*CORE_COMMANDS, *CORE_GROUPS)} <= listed
    assert {c.name for c in plugin_commands()} <= listed  # serve, console, demo: listed from their source
    assert not modules & COMMAND_MODULES
    assert not {m for m in modules if m.split(".")[0] in {"rich", "webhooks", "flask", "grpc", "adapters"}}


def test_check_imports_its_own_module_and_no_other_command(tmp_path: Path) -> None:
    folder = copy_packaged(tmp_path)
    modules, printed = imported_by("check", str(folder))
    assert printed.startswith("valid:") and "integration.cli.check" in modules
    assert not modules & (COMMAND_MODULES - {"integration.cli.check"})
    assert not {m for m in modules if m.split(".")[0] in {"rich", "webhooks", "flask", "grpc", "sklearn"}}


@pytest.mark.parametrize("command", [*CORE_COMMANDS, *CORE_GROUPS], ids=lambda c: c.name)
def test_the_declared_help_line_is_the_commands_own(command: LazyCommand) -> None:
    loaded = load(command)
    assert loaded.name == command.name
    assert (loaded.help or "").splitlines()[0] == command.help


@pytest.mark.parametrize("command", plugin_commands(), ids=lambda c: c.name)
def test_a_plugin_commands_help_line_is_read_from_its_docstring(command: LazyCommand) -> None:
    assert command.help and (load(command).help or "").splitlines()[0] == command.help


def test_a_target_whose_source_cannot_be_found_is_listed_without_help() -> None:
    assert docstring_line("no_such_package.module:command") == ""
    assert docstring_line("integration.cli.check:no_such_function") == ""
