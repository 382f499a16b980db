"""A pull intake: a CRM's change feed read in the background beside the webhook routes.

Salesforce Change Data Capture and HubSpot's webhooks journal are both intakes: they need no
public endpoint, queue what they read, and commit their position only once it is queued.
"""

from __future__ import annotations

import threading
from typing import Protocol


class BackgroundIntake(Protocol):
    """What `serve` and `leadtherm listen` run for a plugin; built by `CrmPlugin.intakes`."""

    name: str  # for logs, /healthz and metrics, e.g. "salesforce-cdc"

    def run(self, stop: threading.Event) -> None:
        """Read, queue and commit until `stop` is set; raise only when it cannot go on."""
        ...

    def health(self) -> str | None:
        """None while healthy, else why not (shown in /healthz, which then answers degraded)."""
        ...
