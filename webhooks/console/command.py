"""`leadtherm console`: the admin console on waitress; and the hook `serve` calls to mount it under /admin."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
import waitress
from flask import Flask

from integration.errors import LeadthermError, MissingSetting
from integration.guard import GuardedClient
from integration.pause import RecordedPauses
from integration.plugins import crm_names, load_crm
from integration.ports import CrmClient
from integration.ratelimit import TokenBucket
from integration.rules_provider import open_rules_store
from integration.runtime import Runtime, open_backend
from mappings.loader import PACKAGED, load_mapping, mappings_dir
from webhooks.console.app import create_console_app, register_console
from webhooks.console.context import ConsoleConfig
from webhooks.console.rescore import Rescorer

log = logging.getLogger("leadtherm.console")
SECRET = "LEADTHERM_ADMIN_SECRET"


class PackagedFolder(LeadthermError):
    def __init__(self) -> None:
        super().__init__(
            "the console edits a mappings folder of your own, not the packaged defaults: "
            "run `leadtherm console --mappings DIR --init` (copies the defaults into DIR) or set LEADTHERM_MAPPINGS"
        )


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
    """For `serve`: mount the console under /admin when LEADTHERM_ADMIN_SECRET is set; whether it did."""
    if not env.get(SECRET):
        return False
    store = runtime.rules_provider.store if runtime.rules_provider else open_rules_store(env, mappings_dir(folder))
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


def console(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    mappings: Annotated[str | None, typer.Option(help="Folder of mapping files to edit.")] = None,
    init: Annotated[bool, typer.Option(help="Copy the packaged defaults into the folder if it has none.")] = False,
    trusted_proxy: Annotated[
        str | None,
        typer.Option(
            help="IP of the TLS proxy in front, whose X-Forwarded-Proto/Host to trust (cookies become Secure)."
        ),
    ] = None,
) -> None:
    """The admin console: edit rules and mappings, preview, what-if on history, apply with history."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    try:
        secret = _secret(env)
        folder = mappings_dir(mappings)
        if init and not list(folder.glob("*.yaml")):
            folder.mkdir(parents=True, exist_ok=True)
            for source in PACKAGED.glob("*.yaml"):
                shutil.copy(source, folder / source.name)
        if folder.resolve() == PACKAGED.resolve():
            raise PackagedFolder()
        store = open_rules_store(env, folder)
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
    except LeadthermError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    app = create_console_app(config)
    proxy: dict[str, str] = {}
    if trusted_proxy:
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": "x-forwarded-proto x-forwarded-host"}
    server: Any = waitress.create_server(app, host=host, port=port, threads=4, ident="leadtherm", **proxy)
    # The port it really listens on (with --port 0, a free one), for people and scripts.
    typer.echo(f"console on http://{host}:{server.effective_port}/admin/ editing {folder}", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
