"""What the console's views share: its configuration, the workspaces, the login limiter, parsed rules."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from flask import abort, after_this_request, g, session
from pydantic import BaseModel

from integration.composition.plugins import CrmPlugin, load_crm
from integration.errors import ConfigError, Problem
from integration.ports import CrmClient, Draft, DraftStore, StateStore, WorkQueue
from integration.ports.rules_store import RulesStore
from mappings.company import CompanyRules
from mappings.crosscheck import rules_against, rules_value_notices, segment_against
from mappings.grammar import (
    COMPANY_RULES_FILE,
    SCORING_FILE,
    SUFFIX,
    crm_of,
    mapping_file,
    named_scoring_file,
    score_of,
)
from mappings.loader import read_yaml, validate
from mappings.schema import CrmMapping, NamedScoringRules, ScoringRules
from webhooks.console.jobs import JobRunner, background_clients
from webhooks.console.merge import merge
from webhooks.console.workspace import MemoryDrafts, UploadError, Workspace, Workspaces

if TYPE_CHECKING:
    from webhooks.console.rescore import Rescorer

MAX_UPLOAD_BYTES = 32 * 1024 * 1024


class PausedCrms(Protocol):
    """Which CRMs are paused and why: the pipeline's CrmPauses in `serve`, the recorded ones in `console`."""

    def paused(self) -> dict[str, str]: ...


@runtime_checkable
class OffersDrafts(Protocol):
    """A state store that also keeps the admins' drafts (SQLite and DynamoDB do)."""

    def drafts(self) -> DraftStore: ...


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
    drafts: DraftStore | None = None  # else the state store's, else in memory
    # The CRMs' settings, for the console's background pulls: they run in a child process that
    # connects on its own (with its own share of the rate). Empty: pulls run in the pool's thread.
    env: Mapping[str, str] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _checked(name: str, text: str) -> tuple[BaseModel | None, tuple[Problem, ...]]:
    """One file through the loader `check` uses (the model it picks by file name), cached by its text.

    Each edit re-reads only the file it changed. `store.apply` still checks the whole folder
    with `check_folder` before anything is written.
    """
    model: type[BaseModel] = CrmMapping
    if name == SCORING_FILE:
        model = ScoringRules
    elif score_of(name) is not None:
        model = NamedScoringRules
    elif name == COMPANY_RULES_FILE:
        model = CompanyRules
    try:
        return validate(model, read_yaml(text, name), name), ()
    except ConfigError as exc:
        return None, tuple(exc.problems)


@lru_cache(maxsize=64)
def _crossed(
    rules_text: str, mapping_texts: tuple[tuple[str, str], ...], notices: bool = False, name: str = SCORING_FILE
) -> tuple[Problem, ...]:
    """The rules of file `name` against the draft's valid mappings, as `check` crosses them (attributes, kinds,
    values; a named score's segment too).

    With `notices`, what check only notes instead: values the attributes never hold that do not
    make a rule match nobody for a typo.
    """
    rules, _ = _checked(name, rules_text)
    if not isinstance(rules, ScoringRules):
        return ()
    mappings = {}
    for file, text in mapping_texts:
        mapping, _ = _checked(file, text)
        if isinstance(mapping, CrmMapping):
            mappings[file.removesuffix(SUFFIX)] = mapping
    cross = rules_value_notices if notices else rules_against
    lines = read_yaml(rules_text, name).lines
    found = cross(rules, name, lines, mappings)
    if isinstance(rules, NamedScoringRules) and not notices:
        found += segment_against(rules.segment, name, lines, mappings)
    return tuple(found)


def rules_files(files: Mapping[str, str]) -> list[str]:
    """The draft's rules files: scoring.yaml, then each named score's `scoring.<name>.yaml`."""
    return [SCORING_FILE, *sorted(n for n in files if score_of(n) is not None)]


def rules_file(files: Mapping[str, str], score: str | None) -> str:
    """The rules file a page or form is about: scoring.yaml, or the named score's; 404 for one the draft lacks."""
    if not score:
        return SCORING_FILE
    name = named_scoring_file(score)
    if name not in files:
        abort(404, f"no named score {score} (no {name})")
    return name


def _mapping_texts(files: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((n, files[n]) for n in sorted(files) if crm_of(n) is not None)


def _rules(text: str, name: str = SCORING_FILE) -> ScoringRules:
    rules, problems = _checked(name, text)
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
        if config.drafts is not None:
            self.drafts: DraftStore = config.drafts
        elif isinstance(config.state, OffersDrafts):
            self.drafts = config.state.drafts()
        else:
            self.drafts = MemoryDrafts()
        self.jobs = JobRunner()  # history pulls, Learn, what-if, re-scoring: never in a request thread
        self.background = background_clients(config.clients)  # their own share of each CRM's rate

    # ------------------------------------------------------------------ the admin's workspace

    def _fresh(self) -> Workspace:
        return Workspace(files=self.store.current(), base_head=self.store.head())

    def workspace(self) -> Workspace:
        """This admin's workspace, its files read from their durable draft (and saved after the request)."""
        sid = session.get("sid")
        if not isinstance(sid, str):
            sid = session["sid"] = secrets.token_urlsafe(16)
        ws = self.workspaces.get(sid, self._fresh)
        if "leadtherm_ws" not in g:
            g.leadtherm_ws = ws
            self._load_draft(ws)

            @after_this_request
            def save(response: Any) -> Any:
                self.save_draft(ws)
                return response

        return ws

    def _load_draft(self, ws: Workspace) -> None:
        """The admin's draft as of the head in force: carried onto a head moved since, conflicts left to choose."""
        head = self.store.head()
        draft = self.drafts.load_draft(self.author())
        if self._in_step(ws, draft, head):
            return  # keep the very dict: a concurrent request of this session may be editing it
        current = self.store.current()
        ws.conflicts = []
        if draft is None:
            ws.files, ws.base_head, ws.base = dict(current), head, dict(current)
        elif draft.base_head == head:
            ws.files, ws.base_head, ws.base = dict(draft.files), head, dict(draft.base)
        else:
            choices = draft.choices if draft.choices_head == head else {}
            merged = merge(draft.base, current, draft.files, choices)
            ws.files, ws.conflicts = merged.files, merged.conflicts
            if merged.conflicts:  # the draft stays as it was until the admin has chosen
                ws.base_head, ws.base = draft.base_head, dict(draft.base)
            else:
                ws.base_head, ws.base = head, dict(current)
                self._store_draft(ws)
        ws.loaded = dict(ws.files)

    @staticmethod
    def _in_step(ws: Workspace, draft: Draft | None, head: int) -> bool:
        """Whether the workspace already holds this draft at this head (nothing to read again)."""
        if ws.conflicts or not ws.loaded or ws.base_head != head:
            return False
        if draft is None:
            return ws.loaded == ws.base
        return draft.base_head == head and dict(draft.files) == ws.loaded

    def _store_draft(self, ws: Workspace) -> None:
        if ws.files == ws.base:
            self.drafts.drop_draft(self.author())
        else:
            self.drafts.save_draft(self.author(), Draft(ws.base_head, dict(ws.base), dict(ws.files)))

    def save_draft(self, ws: Workspace) -> None:
        """Keep the workspace's files as the admin's draft, if a request changed them (never mid-conflict)."""
        if not ws.conflicts and ws.files != ws.loaded:
            self._store_draft(ws)
            ws.loaded = dict(ws.files)

    def choose(self, key: str, choice: str) -> None:
        """Settle one conflict of this admin's draft with the head in force ("theirs" or "yours")."""
        draft = self.drafts.load_draft(self.author())
        head = self.store.head()
        if draft is None or draft.base_head == head:
            return
        choices = dict(draft.choices) if draft.choices_head == head else {}
        choices[key] = choice
        self.drafts.save_draft(self.author(), Draft(draft.base_head, draft.base, draft.files, choices, head))

    def owner(self) -> str:
        """Whose jobs: the login session's id (the same one the workspace is kept under)."""
        self.workspace()
        sid = session["sid"]
        return str(sid)

    def reset(self) -> Workspace:
        """Forget this session's samples, history and what-if (at logout); the draft stays."""
        sid = session.get("sid")
        if isinstance(sid, str):
            self.workspaces.drop(sid)
        g.pop("leadtherm_ws", None)
        return self.workspace()

    def discard(self) -> Workspace:
        """Drop this admin's draft: they edit the rules in force again."""
        self.drafts.drop_draft(self.author())
        return self.reset()

    # ------------------------------------------------------------------ parsed files (cached by text)

    def current_files(self) -> dict[str, str]:
        return self.store.current()

    def current_rules(self) -> ScoringRules | None:
        """The rules in force; None when the files on disk were edited by hand into something invalid."""
        return self.rules_of(self.current_files())

    @staticmethod
    def rules_of(files: Mapping[str, str], name: str = SCORING_FILE) -> ScoringRules | None:
        """The rules of a rules file (scoring.yaml, or a named score's), None when it is missing or invalid."""
        try:
            return _rules(files[name], name)
        except (ConfigError, KeyError):
            return None

    @staticmethod
    def mapping_of(files: Mapping[str, str], crm: str) -> CrmMapping | None:
        name = mapping_file(crm)
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
        problems = [p for name in names for p in _checked(name, files[name])[1]]
        mappings = _mapping_texts(files)
        crossed = [p for name in rules_files(files) for p in _crossed(files[name], mappings, False, name)]
        return [*problems, *crossed]

    @staticmethod
    def value_notices(files: Mapping[str, str]) -> list[Problem]:
        """Values of the draft's rules that no mapping produces, where `check` only notes them."""
        if SCORING_FILE not in files:
            return []
        mappings = _mapping_texts(files)
        return [p for name in rules_files(files) for p in _crossed(files[name], mappings, True, name)]

    @staticmethod
    def crms(files: Mapping[str, str]) -> list[str]:
        return sorted(crm for n in files if (crm := crm_of(n)) is not None)

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
