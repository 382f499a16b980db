"""Where the admin's files live, as a port: read them, apply a validated version, keep every version.

The embedded backend is the mappings folder itself (`integration.files.rules_folder`); on AWS a store
the Lambdas read (`adapters.aws.rules_store`), so an applied change needs no redeploy. Every
version keeps its files whole, with the diff from the one before, its time and its author.
"""

from __future__ import annotations

import difflib
import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from integration.errors import ConfigError, LeadthermError, Problem
from mappings.grammar import SUFFIX
from mappings.loader import check_folder

Files = Mapping[str, str]  # file name ("scoring.yaml", "hubspot.yaml") -> its text


class RulesStoreError(LeadthermError):
    """The rules store cannot be read or written; the message says which version or file."""


class UnknownVersion(RulesStoreError):
    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"no rules version {version}")


class StaleDraft(RulesStoreError):
    """The apply was based on a version that is no longer the head: someone applied meanwhile."""

    def __init__(self, base: int, head: int, author: str) -> None:
        self.base, self.head, self.author = base, head, author
        super().__init__(
            f"the rules changed since you started (version {head} by {author}); "
            f"your draft was based on version {base}: nothing was applied"
        )


@dataclass(frozen=True)
class Reader:
    """A running service that reads the store, as it last said so."""

    name: str
    at: datetime


# A service refreshes its mark every READER_BEAT seconds; older than READER_FRESH, it is taken as gone.
READER_BEAT = 15.0
READER_FRESH = 60.0


def reader_name(kind: str = "serve") -> str:
    """This process, as a reader of a store: kind, host and pid (no personal data)."""
    return f"{kind} on {socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True)
class Version:
    """One applied set of files: who applied it, when, and what changed from the version before."""

    number: int
    at: datetime
    author: str
    note: str
    files: dict[str, str] = field(repr=False)
    diff: str = field(repr=False, default="")

    @property
    def changed(self) -> list[str]:
        """The file names the diff touches."""
        return sorted(
            {line[4:].split("\t")[0].removeprefix("a/") for line in self.diff.splitlines() if line.startswith("--- ")}
        )


class RulesStore(Protocol):
    """The admin's files and their versions."""

    def current(self) -> dict[str, str]:
        """The files in force, by name."""
        ...

    def head(self) -> int:
        """The number of the version in force (0 before anything was applied); cheap, for hot reload."""
        ...

    def apply(self, files: Files, author: str, note: str = "", base: int | None = None) -> Version:
        """Validate and write these files atomically as a new version (ConfigError when invalid).

        `base` is the head the edit started from: when another version was applied since, nothing
        is written and StaleDraft says which (checked in the same atomic step as the write).
        """
        ...

    def history(self, limit: int = 100) -> list[Version]:
        """Versions, newest first."""
        ...

    def version(self, number: int) -> Version:
        """One version with its files (UnknownVersion when there is none)."""
        ...

    def rollback(self, number: int, author: str) -> Version:
        """Apply an earlier version's files again, as a new version."""
        ...

    def location(self) -> str:
        """Where the versions live, for people: "folder /srv/my-mappings", "DynamoDB table t"."""
        ...

    def mark_reader(self, name: str) -> None:
        """Record that the service `name` reads this store now (refreshed every READER_BEAT seconds)."""
        ...

    def forget_reader(self, name: str) -> None:
        """The service `name` stopped reading this store."""
        ...

    def readers(self) -> list[Reader]:
        """The services that marked this store, most recent first (stale marks included; see READER_FRESH)."""
        ...


def fresh_readers(store: RulesStore, now: datetime, within: float = READER_FRESH) -> list[Reader]:
    """The services that read the store now: marked within the last `within` seconds."""
    return [r for r in store.readers() if (now - r.at).total_seconds() <= within]


def unified_diff(before: Files, after: Files) -> str:
    """A unified diff of every file that differs, in name order."""
    parts: list[str] = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, ""), after.get(name, "")
        if old != new:
            parts.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
                )
            )
    return "".join(line if line.endswith("\n") else line + "\n" for line in parts)


def problems_in(files: Files) -> list[Problem]:
    """Every problem in a set of files, through the same loader `leadtherm check` uses, named by file."""
    for name in files:
        if Path(name).name != name or not name.endswith(SUFFIX):
            return [Problem(name, None, "", f"not a mapping file name (expected NAME{SUFFIX})")]
    with tempfile.TemporaryDirectory(prefix="leadtherm-check-") as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text, encoding="utf-8")
        found = check_folder(folder)
    # The loader names files by their path; the admin knows them by name.
    return [Problem(Path(p.file).name, p.line, p.field, p.message) for p in found]


def validated(files: Files) -> dict[str, str]:
    """The files, when they are valid together; ConfigError with every problem otherwise."""
    problems = problems_in(files)
    if problems:
        raise ConfigError(problems)
    return dict(files)


__all__ = [
    "READER_BEAT",
    "READER_FRESH",
    "Files",
    "Reader",
    "RulesStore",
    "RulesStoreError",
    "StaleDraft",
    "UnknownVersion",
    "Version",
    "fresh_readers",
    "problems_in",
    "reader_name",
    "unified_diff",
]
