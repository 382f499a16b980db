"""The rich consoles the commands print tables and progress on (rich is imported only by commands that print so)."""

from __future__ import annotations

from integration.cli.report import make_console

out = make_console()
err = make_console(stderr=True)
