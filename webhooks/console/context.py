"""What the console's views share: its configuration, the workspaces, the login limiter, parsed rules."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from flask import session
from pydantic import BaseModel

from integration.errors import ConfigError, Problem
from integration.plugins import CrmPlugin, load_crm
from integration.ports import CrmClient, StateStore, WorkQueue
from integration.rules_provider import SCORING_FILE
from integration.rules_store import RulesStore
from mappings.loader import read_yaml, validate
from mappings.schema import CrmMapping, ScoringRules
from webhooks.console.jobs import JobRunner, background_clients
from webhooks.console.security import AttemptLimiter
from webhooks.console.workspace import UploadError, Workspace, Workspaces

if TYPE_CHECKING:
    from webhooks.console.rescore import Rescorer

MAX_UPLOAD_BYTES = 32 * 1024 * 1024


class PausedCrms(Protocol):
    """Which CRMs are paused and why: the pipeline's CrmPauses in `serve`, the recorded ones in `console`."""

    def paused(self) -> dict[str, str]: ...


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
    rescorer: Rescorer | None = None  # in `serve`: re-score every record after an apply
    pauses: PausedCrms | None = None  # the operations page's paused CRMs
    # The CRMs' settings, for the console's background pulls: they run in a child process that
    # connects on its own (with its own share of the rate). Empty: pulls run in the pool's thread.
    env: Mapping[str, str] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _checked(name: str, text: str) -> tuple[BaseModel | None, tuple[Problem, ...]]:
    """One file through the loader `check` uses (the model it picks by file name), cached by its text.

    Each edit re-reads only the file it changed. `store.apply` still checks the whole folder
    with `check_folder` before anything is written.
    """
    model: type[BaseModel] = ScoringRules if name == SCORING_FILE else CrmMapping
    try:
        return validate(model, read_yaml(text, name), name), ()
    except ConfigError as exc:
        return None, tuple(exc.problems)


def _rules(text: str) -> ScoringRules:
    rules, problems = _checked(SCORING_FILE, text)
    if not isinstance(rules, ScoringRules):
        raise ConfigError(problems)
    return rules


class Console:
    """The shared state behind every view."""

    def __init__(self, config: ConsoleConfig) -> None:
        if not config.secret:
            raise ValueError("the console needs an admin secret")
        self.config = config
        self.store = config.store
        self.workspaces = Workspaces()
        self.limiter = AttemptLimiter(config.login_attempts, config.login_window_seconds)
        self.jobs = JobRunner()  # history pulls, Learn, what-if, re-scoring: never in a request thread
        self.background = background_clients(config.clients)  # their own share of each CRM's rate

    # ------------------------------------------------------------------ the admin's workspace

    def _fresh(self) -> Workspace:
        return Workspace(files=self.store.current(), base_head=self.store.head())

    def workspace(self) -> Workspace:
        sid = session.get("sid")
        if not isinstance(sid, str):
            sid = session["sid"] = secrets.token_urlsafe(16)
        return self.workspaces.get(sid, self._fresh)

    def owner(self) -> str:
        """Whose jobs: the login session's id (the same one the workspace is kept under)."""
        self.workspace()
        sid = session["sid"]
        return str(sid)

    def reset(self) -> Workspace:
        sid = session.get("sid")
        if isinstance(sid, str):
            self.workspaces.drop(sid)
        return self.workspace()

    # ------------------------------------------------------------------ parsed files (cached by text)

    def current_files(self) -> dict[str, str]:
        return self.store.current()

    def current_rules(self) -> ScoringRules | None:
        """The rules in force; None when the files on disk were edited by hand into something invalid."""
        return self.rules_of(self.current_files())

    @staticmethod
    def rules_of(files: Mapping[str, str]) -> ScoringRules | None:
        try:
            return _rules(files[SCORING_FILE])
        except (ConfigError, KeyError):
            return None

    @staticmethod
    def mapping_of(files: Mapping[str, str], crm: str) -> CrmMapping | None:
        name = f"{crm}.yaml"
        if name not in files:
            return None
        mapping, _ = _checked(name, files[name])
        return mapping if isinstance(mapping, CrmMapping) else None

    def upload_mapping(self, ws: Workspace, crm: str) -> CrmMapping:
        """The mapping an uploaded file is read through: the draft's, else the one in force; UploadError if neither."""
        mapping = self.mapping_of(ws.files, crm) or self.mapping_of(self.current_files(), crm)
        if mapping is None:
            raise UploadError(f"no valid mapping file for {crm!r}")
        return mapping

    @staticmethod
    def problems(files: Mapping[str, str]) -> list[Problem]:
        """Every problem of the draft, file by file in check's order (scoring.yaml, then the mappings)."""
        if SCORING_FILE not in files:
            return [Problem(SCORING_FILE, None, "", "cannot read: no such file")]
        names = [SCORING_FILE, *sorted(n for n in files if n != SCORING_FILE)]
        return [p for name in names for p in _checked(name, files[name])[1]]

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
