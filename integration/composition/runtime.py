"""The composition root: build the pipeline for the CRMs and backend the environment names."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from integration.composition.companies import company_step
from integration.composition.plugins import CrmPlugin, Env, crm_name, crm_names, load_backend, load_crm
from integration.domain.normalize import Normalizer
from integration.errors import LeadthermError
from integration.ports import StateStore, WorkQueue
from integration.service.guard import GuardedClient
from integration.service.pipeline import CrmBinding, Pipeline, PipelineSettings
from integration.service.ratelimit import TokenBucket
from integration.service.rules_provider import StoreRulesProvider, open_rules_store
from mappings.loader import load_scoring, mappings_dir
from mappings.schema import CrmMapping, ScoringRules


class NothingConfigured(LeadthermError):
    """No installed CRM finds its credentials in the environment; the message says what would configure each."""

    def __init__(self, hints: Mapping[str, str]) -> None:
        self.hints = dict(hints)
        ways = "; or ".join(f"{hint} ({name})" for name, hint in hints.items()) or "install a CRM plugin"
        super().__init__(f"no CRM is configured: set {ways}; or name one with --crm")


def configured_crms(env: Env) -> list[str]:
    """The installed CRMs whose credentials the environment holds."""
    return [n for n in crm_names() if load_crm(n).configured(env)]


def nothing_configured() -> NothingConfigured:
    return NothingConfigured({name: load_crm(name).how_to_configure() for name in crm_names()})


def mappings_folder(env: Env, option: str | Path | None = None) -> str | Path | None:
    """The mappings folder an option names, else `LEADTHERM_MAPPINGS`, else None (the packaged defaults)."""
    return option or env.get("LEADTHERM_MAPPINGS") or None


@dataclass
class Runtime:
    rules: ScoringRules
    queue: WorkQueue
    state: StateStore
    plugins: dict[str, CrmPlugin]
    mappings: dict[str, CrmMapping]
    clients: dict[str, GuardedClient]
    pipeline: Pipeline
    rules_provider: StoreRulesProvider | None = None  # the applied rules, reloaded without a restart


def settings_from_env(env: Env, settings: PipelineSettings | None = None) -> PipelineSettings:
    """The settings with what the environment fixes: `LEADTHERM_MAX_RECEIVES` (SQS's maxReceiveCount) is the attempts.

    The pipeline then dead-letters an event with its reason on its last receive, before SQS
    would redrive it without one. `env` is validated (integration.composition.settings.load_settings).
    """
    base = settings or PipelineSettings()
    text = env.get("LEADTHERM_MAX_RECEIVES")
    if not text:
        return base
    return replace(base, retry=replace(base.retry, queue_attempts=int(text)))


def check_outputs(runtime: Runtime, crms: Sequence[str] | None = None) -> None:
    """For `serve` and `backfill` at start: raise OutputFieldsMissing ("run leadtherm setup <crm>") if any is absent."""
    runtime.pipeline.check_outputs(crms)


def open_backend(env: Env) -> tuple[WorkQueue, StateStore]:
    return load_backend(env.get("LEADTHERM_BACKEND", "sqlite")).open(env)


def open_existing_backend(env: Env) -> tuple[WorkQueue, StateStore, str]:
    """For commands that only read: the backend and where its data is; NoStoredData rather than create it."""
    backend = load_backend(env.get("LEADTHERM_BACKEND", "sqlite"))
    where = backend.existing(env)
    queue, state = backend.open(env)
    return queue, state, where


def build_runtime(
    env: Env,
    crms: Sequence[str] | None = None,
    mappings: str | Path | None = None,
    settings: PipelineSettings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Runtime:
    """Everything `serve`, `sweep`, `backfill` and the Lambda handlers need, validated up front."""
    # `--crm NAME` in any case means the plugin's own name: the key of mappings, records and queues from here on.
    names = [crm_name(n) for n in crms] if crms else configured_crms(env)
    if not names:
        raise nothing_configured()
    mappings = mappings_folder(env, mappings)
    plugins = {name: load_crm(name) for name in names}
    # Rules and mappings checked against each other: a rule on an attribute a CRM in use lacks fails here.
    config = load_scoring(names, mappings)
    rules, crm_mappings = config.rules, config.mappings
    clients: dict[str, GuardedClient] = {}
    for name, plugin in plugins.items():
        capacity, period = plugin.rate_limit(env)
        clients[name] = GuardedClient(plugin.client(crm_mappings[name], env), TokenBucket.for_window(capacity, period))
    queue, state = open_backend(env)
    bindings = {n: CrmBinding(clients[n], Normalizer(crm_mappings[n])) for n in names}
    provider = StoreRulesProvider(open_rules_store(env, mappings_dir(mappings)), rules, scores=config.scores)
    pipeline = Pipeline(
        bindings,
        provider,
        queue,
        state,
        settings_from_env(env, settings),
        clock or (lambda: datetime.now(UTC)),
        scores=config.scores,
    )
    pipeline.companies = company_step(plugins, clients, crm_mappings, mappings, provider)
    return Runtime(rules, queue, state, plugins, crm_mappings, clients, pipeline, provider)
