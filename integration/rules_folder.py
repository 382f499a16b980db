"""The embedded rules store: the mappings folder itself, with every version kept beside it.

Versions are JSON files in `<folder>/.history/` (the whole files, the diff, time and author).
Each file is replaced atomically (written aside, then renamed), under a lock so that two
consoles cannot interleave; `head` is the number in `.history/HEAD`, one small read.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from integration.rules_store import Files, RulesStoreError, UnknownVersion, Version, unified_diff, validated

HISTORY = ".history"
OUTSIDE = "(edited outside the console)"


def _write_atomically(path: Path, text: str) -> None:
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with aside.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(aside, path)


class FolderRulesStore:
    """The admin's YAML files in one folder, versioned in `.history/`."""

    def __init__(self, folder: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.folder = folder
        self.clock = clock
        self._history = folder / HISTORY

    # ------------------------------------------------------------------ reading

    def current(self) -> dict[str, str]:
        try:
            return {p.name: p.read_text(encoding="utf-8") for p in sorted(self.folder.glob("*.yaml"))}
        except OSError as exc:
            raise RulesStoreError(f"cannot read the rules in {self.folder}: {exc.strerror}") from exc

    def head(self) -> int:
        try:
            return int((self._history / "HEAD").read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            raise RulesStoreError(f"{self._history / 'HEAD'}: unreadable ({exc})") from exc

    def version(self, number: int) -> Version:
        path = self._history / f"{number:06d}.json"
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

    def history(self, limit: int = 100) -> list[Version]:
        numbers = sorted((int(p.stem) for p in self._history.glob("[0-9]*.json")), reverse=True)
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
        made = Version(number, self.clock(), author, note, dict(files), unified_diff(before, files))
        payload = {
            "number": made.number,
            "at": made.at.isoformat(),
            "author": made.author,
            "note": made.note,
            "files": made.files,
            "diff": made.diff,
        }
        _write_atomically(self._history / f"{number:06d}.json", json.dumps(payload, indent=1, sort_keys=True))
        return made

    def apply(self, files: Files, author: str, note: str = "") -> Version:
        with self._locked():
            head = self.head()
            on_disk = self.current()
            wanted = dict(files)
            validated({**on_disk, **wanted})  # valid together, as the services will load them
            recorded = self.version(head).files if head else {}
            if on_disk != recorded:
                # Hand edits (or the files as they were before the first apply) become a version of
                # their own, so that rolling back can always return to them.
                head += 1
                why = "the files before the first apply" if head == 1 else "changed on disk since the last apply"
                self._record(head, on_disk, recorded, OUTSIDE, why)
            merged = {**on_disk, **wanted}
            made = self._record(head + 1, merged, on_disk, author, note)
            for name, text in wanted.items():
                if on_disk.get(name) != text:
                    _write_atomically(self.folder / name, text)
            _write_atomically(self._history / "HEAD", f"{made.number}\n")
        return made

    def rollback(self, number: int, author: str) -> Version:
        return self.apply(self.version(number).files, author, f"rollback to version {number}")


def open_folder_store(env: Mapping[str, str], folder: Path) -> FolderRulesStore:
    """Entry point `leadtherm.rules_stores: folder`: the mappings folder in use."""
    return FolderRulesStore(folder)


__all__ = ["FolderRulesStore", "open_folder_store"]
