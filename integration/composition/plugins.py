"""Find CRM adapters and storage backends by name through entry points.

The core never imports an adapter: the composition happens here, at run time,
so a third party can ship a CRM adapter (or a backend) as its own package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from integration.composition.installed import installed
from integration.composition.settings import Setting
from integration.errors import LeadthermError

if TYPE_CHECKING:  # the ports and the pydantic models: `leadtherm check` and the Lambda HTTP handler load
    # plugins without importing them for the annotations
    from integration.composition.runtime import Runtime
    from integration.ports import CrmClient, RecordRef, StateStore, WorkQueue
    from integration.ports.inbound import InboundRoute
    from integration.ports.intake import BackgroundIntake
    from mappings.schema import CrmMapping

CRM_GROUP = "leadtherm.crms"
BACKEND_GROUP = "leadtherm.backends"
COMMAND_GROUP = "leadtherm.commands"
SANDBOX_GROUP = "leadtherm.sandboxes"  # the separate leadtherm-sandboxes package's emulators, when installed

Env = Mapping[str, str]


@dataclass(frozen=True)
class SetupReport:
    """What `leadtherm setup CRM` did and what the admin must still do by hand."""

    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    # Fields the mapping reads that the CRM does not have: a typo, or a custom field not created yet.
    missing: list[str] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CalibrationSource:
    """How `leadtherm calibrate CRM` reads a history from the CRM itself."""

    outcome: str  # the yes/no Lead attribute that means "converted"
    created: str | None = None  # the flattened field holding each record's creation date (orders the holdout)


class MappedObjectTypes(Protocol):
    """What a CRM's webhook routes read of its mapping: the object types it maps (people, and companies if scored).

    A CrmMapping is one; so is mappings.mapped_objects' light read, which the Lambda HTTP handler
    gives the routes instead of validating every mapping on a cold start.
    """

    @property
    def objects(self) -> Sequence[str]: ...

    @property
    def company_object(self) -> str | None: ...


class CrmPlugin(Protocol):
    """What an adapter package exposes as its `plugin` object: everything the core knows of a CRM."""

    name: str
    calibration: CalibrationSource

    def settings(self) -> list[Setting]:
        """Every environment variable this CRM reads (README table, `check --env`)."""
        ...

    def how_to_configure(self) -> str:
        """The settings that configure this CRM, for "nothing configured" (e.g. `set X_TOKEN`)."""
        ...

    def intakes(self, runtime: Runtime, env: Env) -> list[BackgroundIntake]:
        """The change feeds `serve` and `leadtherm listen CRM` read in the background (the enabled ones)."""
        ...

    def sandbox(self) -> str | None:
        """The `leadtherm.sandboxes` entry point of a local emulator of this CRM, if there is one."""
        ...

    def flatten(self, record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """An API-shaped or exported record -> (object type if it says, flat field values)."""
        ...

    def configured(self, env: Env) -> bool:
        """Whether the environment holds credentials for this CRM."""
        ...

    def client(self, mapping: CrmMapping, env: Env) -> CrmClient:
        """A CrmClient configured from the environment (raises MissingSetting)."""
        ...

    def rate_limit(self, env: Env) -> tuple[int, float]:
        """(requests, per seconds) to stay under."""
        ...

    def routes(self, mapping: MappedObjectTypes, env: Env) -> list[InboundRoute]:
        """The webhook endpoints, verifying with secrets from the environment; each says `cannot_verify()`."""
        ...

    def setup(self, mapping: CrmMapping, env: Env) -> SetupReport:
        """Create the output fields in the CRM (idempotent) and say what is left to do by hand."""
        ...

    def record_url(self, ref: RecordRef, env: Env) -> str | None:
        """The record's page in the CRM, for the console to link to; None when the settings cannot say.

        Optional: the console links nowhere for a plugin without it (written before it existed).
        """
        ...


class Backend(Protocol):
    """A storage backend: the work queue and the state store, opened from the environment."""

    def open(self, env: Env) -> tuple[WorkQueue, StateStore]: ...

    def existing(self, env: Env) -> str:
        """Where the data is, for a person; NoStoredData when there is none yet (reading must not create it)."""
        ...


class NoStoredData(LeadthermError):
    """A read-only command pointed at storage that does not exist (bad usage: exit 2)."""

    def __init__(self, where: str, hint: str) -> None:
        self.where = where
        super().__init__(f"no leadtherm database at {where} ({hint})")


class UnknownPlugin(LeadthermError):
    """No installed adapter or backend has this name (bad usage: exit 2)."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown {kind} {name!r} (known: {', '.join(known) or 'none installed'})")


class CrmNotNamed(LeadthermError):
    """A command needs one CRM, none was named and none can be told from the context (bad usage: exit 2)."""

    def __init__(self, why: str, known: list[str]) -> None:
        self.known = known
        super().__init__(f"which CRM? {why}; name one with --crm ({', '.join(known) or 'none installed'})")


def _names(group: str) -> list[str]:
    return sorted(ep.name for ep in installed(group))


def _load(group: str, kind: str, name: str) -> Any:
    for ep in installed(group):
        if ep.name == name:
            return ep.load()
    raise UnknownPlugin(kind, name, _names(group))


def crm_names() -> list[str]:
    return _names(CRM_GROUP)


def crm_name(name: str) -> str:
    """The installed adapter's own name for `name`, whatever its case (`Acme` -> `acme`)."""
    known = crm_names()
    return next((n for n in known if n.casefold() == name.casefold()), name)


def backend_names() -> list[str]:
    return _names(BACKEND_GROUP)


def load_crm(name: str) -> CrmPlugin:
    plugin: CrmPlugin = _load(CRM_GROUP, "CRM", crm_name(name))
    return plugin


def load_backend(name: str) -> Backend:
    backend: Backend = _load(BACKEND_GROUP, "backend", name)
    return backend


def load_sandbox(crm: str) -> Any | None:
    """The local emulator a CRM's plugin names (`sandbox()`), or None: it has none, or it is not installed."""
    name = load_crm(crm).sandbox()
    if name is None or name not in _names(SANDBOX_GROUP):
        return None
    return _load(SANDBOX_GROUP, "sandbox", name)


def extra_commands() -> dict[str, Any]:
    """CLI commands that live outside the core (serve, demo), by name."""
    return {ep.name: ep.load() for ep in installed(COMMAND_GROUP)}
