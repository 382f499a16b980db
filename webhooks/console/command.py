"""`leadtherm console`: the admin console on serve's bounded server; and the hook `serve` uses to mount it."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from flask import Flask

from integration.composition.plugins import crm_names, load_crm
from integration.composition.runtime import Runtime, mappings_folder, open_backend
from integration.composition.settings import load_settings
from integration.errors import LeadthermError, MissingSetting
from integration.files.rules_folder import FolderRulesStore
from integration.ports import CrmClient
from integration.ports.rules_store import RulesStore
from integration.service.guard import GuardedClient
from integration.service.pause import RecordedPauses
from integration.service.ratelimit import TokenBucket
from integration.service.rules_provider import open_rules_store
from mappings.grammar import FOLDER_GLOB
from mappings.loader import PACKAGED, load_mapping, mappings_dir
from webhooks import logs
from webhooks.console.app import create_console_app, flush_refused_logins, register_console, upload_area
from webhooks.console.context import ConsoleConfig
from webhooks.console.rescore import Rescorer
from webhooks.forwarding import TRUSTED_PROXIES_ENV, ProxyPolicy, parse_trusted_proxies
from webhooks.server import ServerLimits, create_server, serve_until, stop_on_signals

log = logging.getLogger("leadtherm.console")
SECRET = "LEADTHERM_ADMIN_SECRET"


class PackagedFolder(LeadthermError):
    def __init__(self, in_serve: bool = False) -> None:
        where = (
            "set LEADTHERM_MAPPINGS=DIR for serve and the console (`leadtherm console --mappings DIR --init` "
            "copies the defaults into DIR), or unset LEADTHERM_ADMIN_SECRET to serve without the console"
            if in_serve
            else "run `leadtherm console --mappings DIR --init` (copies the defaults into DIR) "
            "or set LEADTHERM_MAPPINGS"
        )
        super().__init__(f"the console edits a mappings folder of your own, not the packaged defaults: {where}")


def _edits_the_package(store: RulesStore) -> bool:
    return isinstance(store, FolderRulesStore) and store.folder.resolve() == PACKAGED.resolve()


def _secret(env: Mapping[str, str]) -> str:
    secret = env.get(SECRET, "")
    if not secret:
        raise MissingSetting(SECRET, "the console's login secret")
    return secret


def _connected(env: Mapping[str, str], folder: Path) -> dict[str, CrmClient]:
    """Clients of the configured CRMs, for previews and histories read through the adapters."""
    clients: dict[str, CrmClient] = {}
    for name in crm_names():
        plugin = load_crm(name)
        if not plugin.configured(env):
            continue
        try:
            mapping = load_mapping(name, folder)
            clients[name] = GuardedClient(plugin.client(mapping, env), TokenBucket.for_window(*plugin.rate_limit(env)))
        except LeadthermError as exc:
            log.warning("console: %s not connected: %s", name, exc)
    return clients


def mount_console(app: Flask, runtime: Runtime, env: Mapping[str, str], folder: str | Path | None = None) -> bool:
    """For `serve`: mount the console under /admin when LEADTHERM_ADMIN_SECRET is set; whether it did.

    It edits the store the service reads; PackagedFolder when that is the packaged mappings folder.
    """
    if not env.get(SECRET):
        return False
    folder = mappings_dir(mappings_folder(env, folder))
    store = runtime.rules_provider.store if runtime.rules_provider else open_rules_store(env, folder)
    if _edits_the_package(store):
        raise PackagedFolder(in_serve=True)  # an apply would rewrite the installed package's own files
    objects = {crm: mapping.objects for crm, mapping in runtime.mappings.items()}
    config = ConsoleConfig(
        secret=_secret(env),
        store=store,
        queue=runtime.queue,
        state=runtime.state,
        clients=runtime.clients,
        rescorer=Rescorer(runtime.pipeline, objects, runtime.state, runtime.queue),
        pauses=runtime.pipeline.pauses,
        env=dict(env),
    )
    register_console(app, config)
    return True


def _trusted(env: Mapping[str, str], options: list[str] | None) -> ProxyPolicy:
    """The proxies whose X-Forwarded-* count, from --trusted-proxy or else the environment (as `serve`)."""
    if options:
        return ProxyPolicy(parse_trusted_proxies(options))
    return ProxyPolicy(parse_trusted_proxies([env.get(TRUSTED_PROXIES_ENV, "")], TRUSTED_PROXIES_ENV))


def console(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    mappings: Annotated[str | None, typer.Option(help="Folder of mapping files to edit.")] = None,
    init: Annotated[bool, typer.Option(help="Copy the packaged defaults into the folder if it has none.")] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="IP or network of the TLS proxy in front, whose X-Forwarded-* headers count: cookies become "
            f"Secure, login limits count the client it names (repeatable; env {TRUSTED_PROXIES_ENV}).",
        ),
    ] = None,
) -> None:
    """The admin console: edit rules and mappings, preview, what-if on history, apply with history."""
    repeats = logs.configure()
    env = dict(load_settings())
    try:
        secret = _secret(env)
        proxy = _trusted(env, trusted_proxy)
        folder = mappings_dir(mappings_folder(env, mappings))
        if init and not list(folder.glob(FOLDER_GLOB)):
            folder.mkdir(parents=True, exist_ok=True)
            for source in PACKAGED.glob(FOLDER_GLOB):
                shutil.copy(source, folder / source.name)
        if folder.resolve() == PACKAGED.resolve():
            raise PackagedFolder()
        store = open_rules_store(env, folder)
        if _edits_the_package(store):
            raise PackagedFolder()
        queue, state = open_backend(env)
        config = ConsoleConfig(
            secret=secret,
            store=store,
            queue=queue,
            state=state,
            clients=_connected(env, folder),
            pauses=RecordedPauses(state, crm_names()),  # as the workers of `serve` or Lambda recorded them
            env=env,
        )
        app = create_console_app(config, proxy)
        # serve's server: connection cap, idle timeout, bodies refused as they are read (uploads up to 32 MiB)
        limits = ServerLimits(threads=4, uploads=upload_area(app, config.max_upload_bytes))
        server: Any = create_server(app, host, port, limits)
    except LeadthermError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    stopping = stop_on_signals()  # SIGTERM and Ctrl-C: answer what is in flight, then write the pending log counts
    # The port it really listens on (with --port 0, a free one), for people and scripts.
    typer.echo(
        f"console on http://{host}:{server.effective_port}/admin/ editing the rules in {store.location()}", err=True
    )
    try:
        serve_until(server, stopping)
    finally:
        flush_refused_logins(app)
        repeats.flush(everything=True)
