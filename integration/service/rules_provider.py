"""Hot reload: the scoring rules in force, re-read from the rules store when a new version is applied.

The pipeline asks once per batch, and by default every batch checks the store's `head` (one
readlink for the folder, one item read on DynamoDB): the console tells the admin "the service
scores with it from its next batch", and a batch that starts after the apply must keep that
promise. (A throttle of a second let a batch within a second of the last check score with the old
version, and nothing rescored that record.) A positive `check_every` still throttles, for a
caller that accepts the lag. A version that fails to load (edited by hand into something
invalid) leaves the rules in force and is logged once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

from integration.composition.plugins import Env, UnknownPlugin
from integration.errors import ConfigError, LeadthermError
from integration.ports.rules_store import READER_BEAT, RulesStore, reader_name
from mappings.company import COMPANY_RULES_FILE, CompanyRules
from mappings.grammar import SCORING_FILE, named_scoring_file, score_of
from mappings.loader import read_yaml, validate
from mappings.schema import NamedScoringRules, ScoreDefinition, ScoringRules

log = logging.getLogger("leadtherm.rules")
STORE_GROUP = "leadtherm.rules_stores"


def open_rules_store(env: Env, folder: Path) -> RulesStore:
    """The store `LEADTHERM_RULES_STORE` names (default `folder`: the mappings folder itself)."""
    name = env.get("LEADTHERM_RULES_STORE", "folder")
    for ep in entry_points(group=STORE_GROUP):
        if ep.name == name:
            store: RulesStore = ep.load()(env, folder)
            return store
    raise UnknownPlugin("rules store", name, sorted(ep.name for ep in entry_points(group=STORE_GROUP)))


class RulesSource(Protocol):
    """What the pipeline reads its rules from, once per batch."""

    def current(self) -> ScoringRules: ...


def parse_rules(text: str, file: str = SCORING_FILE) -> ScoringRules:
    """A scoring.yaml text as rules, through the same loader `check` uses (ConfigError with lines)."""
    return validate(ScoringRules, read_yaml(text, file), file)


class StoreRulesProvider:
    """The rules of the store's head version, reloaded when the head moves."""

    def __init__(
        self,
        store: RulesStore,
        initial: ScoringRules,
        check_every: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        scores: Sequence[ScoreDefinition] = (),
    ) -> None:
        self.store = store
        self.check_every = check_every
        self._monotonic = monotonic
        self._rules = initial
        self._scores = tuple(scores)
        # The named scores whose fields the mappings read and write: fixed at start (a new one needs setup).
        self._names = tuple(s.name for s in scores)
        self._unwritten: set[str] = set()
        self._company: CompanyRules | None = None  # scoring.company.yaml of the version in force, if it has one
        self._head = 0  # the files as found at start; a store that has versions says which is in force
        self._lock = threading.Lock()
        self._checked = monotonic()
        self._reload()

    @property
    def head(self) -> int:
        """The version whose rules are in force (0: the files as found at start)."""
        return self._head

    def current(self) -> ScoringRules:
        return self.snapshot()[0]

    def company_rules(self, initial: CompanyRules) -> CompanyRules:
        """The company rules of the version in force; `initial` (read at start) while no version holds any.

        No store read: the pipeline's batch already took its snapshot, and the company step runs in that batch.
        """
        return self._company or initial

    def snapshot(self) -> tuple[ScoringRules, tuple[ScoreDefinition, ...]]:
        """The default rules and the named scores of one version, together (a batch scores with one version)."""
        now = self._monotonic()
        if now - self._checked < self.check_every:
            return self._rules, self._scores
        with self._lock:
            if now - self._checked >= self.check_every:
                self._checked = now
                self._reload()
            return self._rules, self._scores

    def _named(self, files: Mapping[str, str]) -> tuple[ScoreDefinition, ...]:
        """The named scores of a version that the service writes; one applied since it started is noted once."""
        for file in files:
            name = score_of(file)
            if name is not None and name not in self._names and name not in self._unwritten:
                self._unwritten.add(name)
                log.warning("named score %s applied: run leadtherm setup, then restart serve to write it", name)
        scores = []
        for name in self._names:
            file = named_scoring_file(name)
            if file in files:  # one removed from the store is no longer written
                scores.append(ScoreDefinition.of(name, validate(NamedScoringRules, read_yaml(files[file], file), file)))
        return tuple(scores)

    def _reload(self) -> None:
        try:
            head = self.store.head()
            if head == self._head:
                return
            files = self.store.current()
            rules = parse_rules(files[SCORING_FILE])
            scores = self._named(files)
            company = files.get(COMPANY_RULES_FILE)
            company_rules = (
                validate(CompanyRules, read_yaml(company, COMPANY_RULES_FILE), COMPANY_RULES_FILE) if company else None
            )
        except ConfigError as exc:
            log.error(
                "rules version %s not loaded, keeping version %s: %d problem(s)", head, self._head, len(exc.problems)
            )
            self._head = head
            return
        except (LeadthermError, KeyError) as exc:
            log.error("rules store unreadable, keeping version %s: %s", self._head, exc)
            return
        log.info("rules version %d in force (was %d)", head, self._head)
        self._rules, self._scores, self._company, self._head = rules, scores, company_rules, head

    def keep_marking(
        self, stop: threading.Event, every: float = READER_BEAT, name: str | None = None
    ) -> threading.Thread:
        """Tell the store, every `every` seconds until `stop`, that a running service reads it (for consoles)."""
        who = name or reader_name()

        def mark() -> None:
            failing = False
            while True:
                try:
                    self.store.mark_reader(who)
                    failing = False
                except (LeadthermError, OSError) as exc:
                    if not failing:  # once per outage, not every beat
                        log.warning("cannot record in the rules store that this service reads it: %s", exc)
                    failing = True
                if stop.wait(every):
                    break
            try:
                self.store.forget_reader(who)
            except (LeadthermError, OSError) as exc:
                log.warning("cannot remove this service's mark from the rules store: %s", exc)

        thread = threading.Thread(target=mark, name="rules-reader-mark", daemon=True)
        thread.start()
        return thread


__all__ = ["RulesSource", "StoreRulesProvider", "open_rules_store", "parse_rules"]
