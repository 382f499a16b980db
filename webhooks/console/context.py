"""What the console's views share: its configuration, the workspaces, the login limiter, parsed rules."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from flask import session

from integration.errors import ConfigError, Problem
from integration.plugins import CrmPlugin, load_crm
from integration.ports import CrmClient, StateStore, WorkQueue
from integration.rules_provider import SCORING_FILE, parse_rules
from integration.rules_store import RulesStore, problems_in
from mappings.loader import read_yaml, validate
from mappings.schema import CrmMapping, ScoringRules
from webhooks.console.security import AttemptLimiter
from webhooks.console.workspace import Workspace, Workspaces

MAX_UPLOAD_BYTES = 32 * 1024 * 1024


@dataclass
class ConsoleConfig:
    """Everything the console needs, passed in (nothing read from globals)."""

    secret: str
    store: RulesStore
    queue: WorkQueue | None = None  # the operations page needs the backend
    state: StateStore | None = None
    clients: Mapping[str, CrmClient] = field(default_factory=dict)  # preview from the connected CRM
    secure_cookies: bool = False  # force `Secure` even without TLS seen (cookies are Secure over TLS anyway)
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    login_attempts: int = 5
    login_window_seconds: float = 300.0
    session_seconds: int = 8 * 3600
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_apply: Callable[[int], None] | None = None  # told the new head after an apply or rollback


@lru_cache(maxsize=32)
def _rules(text: str) -> ScoringRules:
    return parse_rules(text)


@lru_cache(maxsize=32)
def _mapping(text: str, name: str) -> CrmMapping:
    return validate(CrmMapping, read_yaml(text, name), name)


class Console:
    """The shared state behind every view."""

    def __init__(self, config: ConsoleConfig) -> None:
        if not config.secret:
            raise ValueError("the console needs an admin secret")
        self.config = config
        self.store = config.store
        self.workspaces = Workspaces()
        self.limiter = AttemptLimiter(config.login_attempts, config.login_window_seconds)

    # ------------------------------------------------------------------ the admin's workspace

    def _fresh(self) -> Workspace:
        return Workspace(files=self.store.current(), base_head=self.store.head())

    def workspace(self) -> Workspace:
        sid = session.get("sid")
        if not isinstance(sid, str):
            sid = session["sid"] = secrets.token_urlsafe(16)
        return self.workspaces.get(sid, self._fresh)

    def reset(self) -> Workspace:
        sid = session.get("sid")
        if isinstance(sid, str):
            self.workspaces.drop(sid)
        return self.workspace()

    # ------------------------------------------------------------------ parsed files (cached by text)

    def current_files(self) -> dict[str, str]:
        return self.store.current()

    def current_rules(self) -> ScoringRules:
        return _rules(self.current_files()[SCORING_FILE])

    @staticmethod
    def rules_of(files: Mapping[str, str]) -> ScoringRules | None:
        try:
            return _rules(files[SCORING_FILE])
        except (ConfigError, KeyError):
            return None

    @staticmethod
    def mapping_of(files: Mapping[str, str], crm: str) -> CrmMapping | None:
        try:
            return _mapping(files[f"{crm}.yaml"], f"{crm}.yaml")
        except (ConfigError, KeyError):
            return None

    @staticmethod
    def problems(files: Mapping[str, str]) -> list[Problem]:
        return _problems(tuple(sorted(files.items())))

    @staticmethod
    def crms(files: Mapping[str, str]) -> list[str]:
        return sorted(n.removesuffix(".yaml") for n in files if n != SCORING_FILE)

    @staticmethod
    def plugin(crm: str) -> CrmPlugin:
        return load_crm(crm)

    def author(self) -> str:
        name = session.get("author")
        return name if isinstance(name, str) and name else "admin"

    def now(self) -> datetime:
        return self.config.clock()

    def info(self) -> dict[str, Any]:
        return {"head": self.store.head()}


@lru_cache(maxsize=32)
def _problems(items: tuple[tuple[str, str], ...]) -> list[Problem]:
    return problems_in(dict(items))
