"""`leadtherm listen salesforce`: the CDC subscriber as a long-running process."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Annotated

import typer


def listen(
    crm: Annotated[str, typer.Argument(help="The CRM to listen to: salesforce.")],
    workers: Annotated[
        int, typer.Option(help="Worker threads processing the queue here too (0: `serve` or the SQS worker does).")
    ] = 0,
    mappings: Annotated[str | None, typer.Option(help="Folder of mapping files.")] = None,
) -> None:
    """Subscribe to Salesforce Change Data Capture (Pub/Sub API), queue changes, resume from the stored replay id."""
    # Imported here: every `leadtherm` command loads this module to register it, and grpc is heavy.
    from adapters.salesforce.pubsub.listener import Listener
    from adapters.salesforce.pubsub.subscriber import SubscriberGaveUp
    from integration.composition.runtime import build_runtime
    from integration.errors import LeadthermError
    from integration.service.worker import run_worker

    crm = crm.casefold()  # CRM names are case-insensitive everywhere in the CLI
    if crm != "salesforce":
        typer.echo(f"error: Change Data Capture is a Salesforce feature; {crm!r} is not supported", err=True)
        raise typer.Exit(2)
    from webhooks import logs

    logs.configure()  # text or LEADTHERM_LOG_FORMAT=json, as serve
    env = dict(os.environ)
    try:
        runtime = build_runtime(env, [crm], mappings)
        listener = Listener(runtime, env)
    except LeadthermError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    for index in range(workers):
        threading.Thread(target=run_worker, args=(runtime.pipeline, stop), name=f"worker-{index}", daemon=True).start()
    topics = ", ".join(s.settings.topic for s in listener.subscribers)
    logging.getLogger("leadtherm.salesforce.cdc").info("listening to %s on %s", topics, listener.config.endpoint)
    try:
        listener.run(stop)
    except KeyboardInterrupt:
        stop.set()
    except SubscriberGaveUp as exc:
        stop.set()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        listener.close()
