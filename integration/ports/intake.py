"""A pull intake: a CRM's change feed read in the background beside the webhook routes.

A change data capture stream or a journal of webhook deliveries: an intake needs no public
endpoint, queues what it reads, and commits its position only once that is queued.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable


class BackgroundIntake(Protocol):
    """What `serve` and `leadtherm listen` run for a plugin; built by `CrmPlugin.intakes`."""

    name: str  # for logs, /healthz and metrics, e.g. "<crm>-cdc"
    crm: str  # the plugin's name, a label of its metrics

    def run(self, stop: threading.Event) -> None:
        """Read, queue and commit until `stop` is set; raise only when it cannot go on."""
        ...

    def health(self) -> str | None:
        """None while healthy, else why not (shown in /healthz, which then answers degraded)."""
        ...

    def lag_seconds(self) -> float | None:
        """How far behind the feed's newest change it is; None until it knows."""
        ...


@runtime_checkable
class DrainableIntake(BackgroundIntake, Protocol):
    """An intake a scheduled function can run to the end of its backlog (the Lambda `cdc` function)."""

    def drain(self, until: float, idle_after: float) -> dict[str, int]:
        """Queue what is pending; return once caught up (or idle for `idle_after` s) or at `until`
        (a time.monotonic()), with the events queued per stream."""
        ...
