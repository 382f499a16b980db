"""The embedded rules store: the mappings folder itself, with every version kept beside it.

Layout (the loader and `leadtherm check` read the top-level files, as in any mappings folder):

    <folder>/scoring.yaml  -> .history/current/scoring.yaml      one link per file, never moved
    <folder>/.history/current -> files/000007                    THE pointer: the version in force
    <folder>/.history/files/000007/scoring.yaml ...              each version's files, whole
    <folder>/.history/000007.json                                its record: files, diff, time, author

An apply writes the new version's files aside (`files/.000008.<pid>.tmp`, fsynced, renamed to
`files/000008`), writes its record, then replaces `current` by one rename of a new link: that
rename is the commit, so a crash at any instant leaves the old or the new version in force,
never a mix. Everything happens under an fcntl lock on `.history/lock`, the stale-draft check
included. What a crash leaves (`.tmp` files, a version written but never switched to) is
removed at the next start or apply, under the same lock; a record in force is never rewritten.

A folder of plain files (before the first apply, or from before this layout) is read as it is
and moved to the layout at its first apply; a file edited or replaced by hand since the last
apply becomes a version of its own first, so rolling back can always return to it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from integration.ports.rules_store import (
    Files,
    Reader,
    RulesStoreError,
    StaleDraft,
    UnknownVersion,
    Version,
    unified_diff,
    validated,
)
from mappings.grammar import FOLDER_GLOB
from mappings.loader import PACKAGED

log = logging.getLogger("leadtherm.rules")
HISTORY = ".history"
CURRENT = "current"
FILES = "files"
READERS = "readers"
OUTSIDE = "(edited outside the console)"
_RECORD = re.compile(r"^(\d{6,})\.json$")
_VERSION_DIR = re.compile(r"^\d{6,}$")
_FORGET_READERS_AFTER = 24 * 3600.0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _link_atomically(path: Path, target: str) -> None:
    """Make `path` a symbolic link to `target` in one rename (whatever `path` was before)."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    aside.unlink(missing_ok=True)
    os.symlink(target, aside)
    os.replace(aside, path)


def _link_of(name: str) -> str:
    return f"{HISTORY}/{CURRENT}/{name}"


def _dir_name(number: int) -> str:
    return f"{number:06d}"


class FolderRulesStore:
    """The admin's YAML files in one folder, versioned in `.history/`."""

    def __init__(
        self,
        folder: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        check: Callable[[Files], dict[str, str]] = validated,
    ) -> None:
        self.folder = folder
        self.clock = clock
        self.check = check  # `check`'s loader; the crash and race tests pass a quicker one to hit the writes
        self._history = folder / HISTORY
        self._files = self._history / FILES
        self._current = self._history / CURRENT

    def location(self) -> str:
        return f"folder {self.folder.resolve()}"

    # ------------------------------------------------------------------ reading

    def _pointed(self) -> int | None:
        """The version `current` points to, or None in a folder of plain files."""
        try:
            target = os.readlink(self._current)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RulesStoreError(f"{self._current}: unreadable ({exc.strerror})") from exc
        try:
            return int(Path(target).name)
        except ValueError:
            raise RulesStoreError(f"{self._current}: points to {target!r}, not a version") from None

    def _ours(self, path: Path) -> bool:
        """Whether a top-level file is the link this store keeps (not a file replaced by hand)."""
        try:
            return os.readlink(path) == _link_of(path.name)
        except OSError:
            return False

    def head(self) -> int:
        pointed = self._pointed()
        if pointed is not None:
            return pointed
        try:  # a folder versioned before the pointer existed
            return int((self._history / "HEAD").read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise RulesStoreError(f"{self._history / 'HEAD'}: unreadable ({exc})") from exc

    def current(self) -> dict[str, str]:
        """The files the loader reads, all from one version (the pointer is read once), plus hand edits."""
        try:
            pointed = self._pointed()
            in_force = self._files / _dir_name(pointed) if pointed is not None else None
            files: dict[str, str] = {}
            if in_force is not None:
                files = {p.name: p.read_text(encoding="utf-8") for p in sorted(in_force.glob(FOLDER_GLOB))}
            for path in sorted(self.folder.glob(FOLDER_GLOB)):
                if in_force is None or not self._ours(path):
                    files[path.name] = path.read_text(encoding="utf-8")
            return dict(sorted(files.items()))
        except OSError as exc:
            raise RulesStoreError(f"cannot read the rules in {self.folder}: {exc.strerror}") from exc

    def version(self, number: int) -> Version:
        path = self._history / f"{number:06d}.json"
        if number > self.head():
            raise UnknownVersion(number)  # written by an apply that never came into force
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UnknownVersion(number) from None
        except (OSError, ValueError) as exc:
            raise RulesStoreError(f"{path}: unreadable ({exc})") from exc
        return Version(
            number=int(data["number"]),
            at=datetime.fromisoformat(data["at"]),
            author=str(data["author"]),
            note=str(data.get("note", "")),
            files=dict(data["files"]),
            diff=str(data.get("diff", "")),
        )

    def _numbers(self) -> list[int]:
        if not self._history.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self._history.iterdir() if (m := _RECORD.match(p.name)))

    def history(self, limit: int = 100) -> list[Version]:
        head = self.head()
        numbers = [n for n in reversed(self._numbers()) if n <= head]
        return [self.version(n) for n in numbers[:limit]]

    # ------------------------------------------------------------------ writing

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._history.mkdir(parents=True, exist_ok=True)
        with (self._history / "lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _record(self, number: int, files: Files, before: Files, author: str, note: str) -> Version:
        """Write a version's record, once: an existing record is never replaced."""
        made = Version(number, self.clock(), author, note, dict(files), unified_diff(before, files))
        payload = {
            "number": made.number,
            "at": made.at.isoformat(),
            "author": made.author,
            "note": made.note,
            "files": made.files,
            "diff": made.diff,
        }
        final = self._history / f"{number:06d}.json"
        aside = self._history / f".{number:06d}.{os.getpid()}.tmp"
        _write_synced(aside, json.dumps(payload, indent=1, sort_keys=True))
        try:
            os.link(aside, final)  # fails when the record exists, unlike a rename
        except FileExistsError:
            raise RulesStoreError(f"{final}: version {number} exists already; not overwritten") from None
        finally:
            aside.unlink(missing_ok=True)
        return made

    def _write_version_files(self, number: int, files: Files) -> None:
        final = self._files / _dir_name(number)
        if final.is_dir():
            return
        self._files.mkdir(parents=True, exist_ok=True)
        aside = self._files / f".{_dir_name(number)}.{os.getpid()}.tmp"
        shutil.rmtree(aside, ignore_errors=True)
        aside.mkdir()
        for name, text in files.items():
            _write_synced(aside / name, text)
        _fsync_dir(aside)
        os.rename(aside, final)
        _fsync_dir(self._files)

    def _switch(self, number: int, files: Files) -> None:
        """Bring version `number` (whose files are `files`) into force: one rename of the pointer."""
        self._write_version_files(number, files)
        _link_atomically(self._current, f"{FILES}/{_dir_name(number)}")
        _fsync_dir(self._history)
        (self._history / "HEAD").unlink(missing_ok=True)  # the pointer from before this layout
        self._link_top_level(files)

    def _link_top_level(self, files: Files) -> None:
        """Each top-level file becomes the link through the pointer (its text is the same already)."""
        changed = False
        for name in files:
            path = self.folder / name
            if not self._ours(path):
                _link_atomically(path, _link_of(name))
                changed = True
        if changed:
            _fsync_dir(self.folder)

    def _settled(self, files: Files) -> bool:
        return self._pointed() is not None and all(self._ours(self.folder / name) for name in files)

    def apply(self, files: Files, author: str, note: str = "", base: int | None = None) -> Version:
        with self._locked():
            self._clean()
            head = self.head()
            if base is not None and head != base:
                raise StaleDraft(base, head, self._author_of(head))
            on_disk = self.current()
            merged = self.check({**on_disk, **files})  # valid together, as the services will load them
            recorded = self.version(head).files if head else {}
            if on_disk != recorded:
                # Hand edits (or the files as they were before the first apply) become a version of
                # their own, so that rolling back can always return to them.
                head += 1
                why = "the files before the first apply" if head == 1 else "changed on disk since the last apply"
                self._record(head, on_disk, recorded, OUTSIDE, why)
            if not self._settled(on_disk) or self._pointed() != head:
                # In force already; switching to it and linking the top-level files changes no text.
                self._switch(head, on_disk)
            made = self._record(head + 1, merged, on_disk, author, note)
            self._switch(made.number, merged)
        return made

    def rollback(self, number: int, author: str) -> Version:
        return self.apply(self.version(number).files, author, f"rollback to version {number}")

    def _author_of(self, number: int) -> str:
        try:
            return self.version(number).author if number else "nobody"
        except RulesStoreError:
            return "unknown"

    # ------------------------------------------------------------------ what a crash leaves

    def recover(self) -> list[str]:
        """At start: remove what an interrupted apply left and finish linking; the names removed."""
        if not self._history.is_dir():
            return []  # never applied: nothing to clean (and nothing written, e.g. in the package)
        try:
            with self._locked():
                return self._clean()
        except OSError as exc:  # a read-only deployment reads the version in force all the same
            log.warning("rules folder %s not cleaned at start: %s", self.folder, exc.strerror)
            return []

    def _clean(self) -> list[str]:
        removed: list[str] = []
        for place in (self.folder, self._history, self._files):  # not readers/: marks are written unlocked
            if place.is_dir():
                for path in place.glob(".*.tmp"):
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                    removed.append(str(path.relative_to(self.folder)))
        head = self.head()
        for number in self._numbers():
            if number > head:  # recorded by an apply that stopped before its switch
                (self._history / f"{number:06d}.json").unlink()
                removed.append(f"{HISTORY}/{number:06d}.json")
        pointed = self._pointed()
        if pointed is None:
            return removed
        if self._files.is_dir():
            for path in self._files.iterdir():
                if _VERSION_DIR.match(path.name) and int(path.name) > pointed:
                    shutil.rmtree(path)
                    removed.append(str(path.relative_to(self.folder)))
        in_force = self._files / _dir_name(pointed)
        for path in sorted(in_force.glob(FOLDER_GLOB)):
            top = self.folder / path.name
            # Missing (added by an apply stopped before linking), or still the plain file a first
            # apply was turning into a link: the text is the version's, so linking changes nothing.
            if not top.is_symlink() and (not top.exists() or top.read_bytes() == path.read_bytes()):
                _link_atomically(top, _link_of(path.name))
        return removed

    # ------------------------------------------------------------------ who reads it

    def _reader_path(self, name: str) -> Path:
        return self._history / READERS / (re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".json")

    def mark_reader(self, name: str) -> None:
        if self.folder.resolve() == PACKAGED.resolve():
            return  # no console edits the installed package: nobody to tell, and nothing written there
        path = self._reader_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        aside.write_text(json.dumps({"name": name, "at": self.clock().isoformat()}), encoding="utf-8")
        os.replace(aside, path)

    def forget_reader(self, name: str) -> None:
        self._reader_path(name).unlink(missing_ok=True)

    def readers(self) -> list[Reader]:
        found: list[Reader] = []
        folder = self._history / READERS
        if not folder.is_dir():
            return found
        for path in folder.glob("*.json"):
            try:
                if time.time() - path.stat().st_mtime > _FORGET_READERS_AFTER:
                    path.unlink(missing_ok=True)  # a service that stopped without saying so, long ago
                    continue
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(Reader(str(data["name"]), datetime.fromisoformat(data["at"])))
            except (OSError, ValueError, KeyError):
                continue  # removed or being replaced meanwhile
        return sorted(found, key=lambda r: r.at, reverse=True)


def open_folder_store(env: Mapping[str, str], folder: Path) -> FolderRulesStore:
    """Entry point `leadtherm.rules_stores: folder`: the mappings folder in use, cleaned of a crash's leftovers."""
    store = FolderRulesStore(folder)
    store.recover()
    return store


__all__ = ["FolderRulesStore", "open_folder_store"]
