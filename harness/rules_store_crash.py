"""Kill -9 a process that is applying rules versions, at a chosen instant, and look at what it left.

Shared by the short run in the tests (about 30 instants) and the long one in `python -m bench
rules_store_crash` (hundreds). The child is forked from the caller, so it starts at once; each
version it applies changes two files together and marks both with the same line, so a folder
holding one file of a version and one of another is seen at once.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from integration.files.rules_folder import HISTORY, FolderRulesStore, open_folder_store
from integration.ports.rules_store import Files
from mappings.loader import check_folder

TOGETHER = ("scoring.yaml", "hubspot.yaml")  # each version changes both
FILES = ("scoring.yaml", "hubspot.yaml", "salesforce.yaml", "scoring.company.yaml")  # the packaged files


def unchecked(files: Files) -> dict[str, str]:
    """Accept the files as they are: the child's versions are valid by construction.

    `check`'s loader takes about a second per apply on a busy machine; without it the kills fall
    on the writes (and the pointer's switch), which are what a crash can break.
    """
    return dict(files)


def marks(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("# apply ")]


def leftovers(folder: Path) -> list[str]:
    """What an interrupted apply may leave: temporary files, and records or version folders past the head."""
    head = FolderRulesStore(folder).head()
    found = [str(p.relative_to(folder)) for p in folder.rglob("*.tmp")]
    found += [p.name for p in (folder / HISTORY).glob("[0-9]*.json") if int(p.stem) > head]
    found += [p.name for p in (folder / HISTORY / "files").glob("[0-9]*") if int(p.name) > head]
    return found


def _applying_forever(folder: Path, trial: int, ready: int) -> None:
    """The child: apply versions until killed; never returns."""
    try:
        store = FolderRulesStore(folder, check=unchecked)
        os.write(ready, b".")
        for step in itertools.count():
            files = store.current()
            mark = f"# apply {trial}.{step}"
            store.apply({n: f"{files[n].rstrip()}\n{mark}\n" for n in TOGETHER}, "crash-test")
    finally:
        os._exit(0)


@dataclass(frozen=True)
class AfterKill:
    head: int  # the version in force after the kill
    mixed: bool  # the top-level files carry different versions' marks
    matches_record: bool  # the top-level files are exactly the head version's recorded files
    left: list[str]  # what the kill left, before the next start
    left_after_start: list[str]  # ... and after it (must be empty)
    same_after_start: bool  # the next start kept the version in force as it was
    valid: bool | None  # `check`'s loader found no problem (None: not checked this time)


def kill_during_applies(folder: Path, trial: int, delay: float, check: bool = False) -> AfterKill:
    """Fork a child applying versions into `folder`, SIGKILL it `delay` seconds after it starts, and look."""
    ready, told = os.pipe()
    child = os.fork()
    if child == 0:
        _applying_forever(folder, trial, told)
    try:
        os.read(ready, 1)
        time.sleep(delay)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    finally:
        os.close(ready)
        os.close(told)
    on_disk = {n: (folder / n).read_text(encoding="utf-8") for n in FILES}  # as a starting service reads them
    store = FolderRulesStore(folder)
    head = store.head()
    recorded = store.version(head).files if head else None
    left = leftovers(folder)
    restarted = open_folder_store({}, folder)  # the next start
    return AfterKill(
        head=head,
        mixed=marks(on_disk["scoring.yaml"]) != marks(on_disk["hubspot.yaml"]),
        matches_record=recorded is None or recorded == on_disk,
        left=left,
        left_after_start=leftovers(folder),
        same_after_start=restarted.head() == head and restarted.current() == on_disk,
        valid=(check_folder(folder) == []) if check else None,
    )


__all__ = ["AfterKill", "kill_during_applies", "leftovers", "marks", "unchecked"]
