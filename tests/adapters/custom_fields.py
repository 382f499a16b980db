"""An admin's own CRM field end to end: the mapping folder that declares it, and leadtherm serving it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from waitress.server import create_server

from harness.packaged_copy import copy_packaged
from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime
from integration.service.worker import run_worker
from mappings.loader import PACKAGED
from webhooks.app import AppConfig, create_app

RULE = """
  - label: Interested in the analytics suite
    attribute: product_interest
    is: analytics
    points: 20
"""
REASON = "Interested in the analytics suite (+10)"  # 20 fit points at the fit weight of 0.5


def custom_folder(tmp_path: Path, crm: str, declaration: str) -> Path:
    """The packaged files, plus the admin's own attribute in one CRM's mapping and a rule on it."""
    folder = copy_packaged(tmp_path / "mappings")
    (folder / f"{crm}.yaml").write_text((PACKAGED / f"{crm}.yaml").read_text() + declaration)
    scoring = (PACKAGED / "scoring.yaml").read_text().replace("\nengagement:\n", RULE + "\nengagement:\n", 1)
    (folder / "scoring.yaml").write_text(scoring)
    return folder


@contextmanager
def serving(runtime: Runtime, env: dict[str, str]) -> Iterator[str]:
    """The webhook app on waitress with a worker, for as long as the block runs; yields its base URL."""
    stop = threading.Event()
    server: Any = create_server(create_app(AppConfig(runtime.queue, routes_of(runtime, env))), port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    threading.Thread(target=run_worker, args=(runtime.pipeline, stop, 0.02), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        server.close()
