"""A minimal adapter route for the web-layer tests."""

from __future__ import annotations

import json

from integration.ports import ChangeEvent, RecordRef
from integration.ports.inbound import Enqueue, InboundRequest, InboundResponse


class EchoRoute:
    """A minimal adapter route: one event per JSON id, 401 without the shared header."""

    path = "/webhooks/test"

    def __init__(self) -> None:
        self.seen_urls: list[str] = []

    def cannot_verify(self) -> str | None:
        return None  # its secret is fixed

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        self.seen_urls.append(request.url)
        if request.header("x-test-secret") != "s3cret":
            return InboundResponse(401, b"bad signature")
        try:
            ids = json.loads(request.body)
        except ValueError:
            return InboundResponse(400, b"malformed body")
        enqueue([ChangeEvent(f"evt-{i}", RecordRef("test", "contact", str(i))) for i in ids])
        return InboundResponse(204, events=len(ids))
