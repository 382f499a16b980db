"""The WorkQueue on SQS: a standard queue with a dead-letter queue beside it.

SQS cannot coalesce by record; the pipeline coalesces within each received batch.
Receipts are receipt handles; attempts come from ApproximateReceiveCount.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration.errors import LeadthermError
from integration.ports import ChangeEvent, DeadLetter, QueueItem, QueueStats, Settlement, StateStore
from integration.service.settlement import settle_in_order

MAX_BATCH = 10  # SQS batch APIs take at most 10 entries
MAX_VISIBILITY = 43_200
MAX_DELAY = 900  # SQS DelaySeconds


class QueueError(LeadthermError):
    """SQS refused or failed a request."""


def _chunks(items: Sequence[Any], size: int = MAX_BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class SqsWorkQueue:
    def __init__(self, sqs: Any, queue_url: str, dlq_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.dlq_url = dlq_url

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.sqs, operation)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise QueueError(f"SQS {operation} failed: {exc}") from exc
        failed = answer.get("Failed") or []
        if failed:
            raise QueueError(f"SQS {operation}: {len(failed)} entries failed ({failed[0].get('Code')})")
        return answer

    def enqueue(self, events: Sequence[ChangeEvent]) -> None:
        for chunk in _chunks(events):
            entries = [{"Id": str(i), "MessageBody": json.dumps(e.to_json())} for i, e in enumerate(chunk)]
            self._call("send_message_batch", QueueUrl=self.queue_url, Entries=entries)

    def lease(self, max_items: int, visibility_timeout: float) -> list[QueueItem]:
        items: list[QueueItem] = []
        while len(items) < max_items:
            answer = self._call(
                "receive_message",
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_BATCH, max_items - len(items)),
                VisibilityTimeout=min(MAX_VISIBILITY, math.ceil(visibility_timeout)),
                WaitTimeSeconds=0,
                AttributeNames=["ApproximateReceiveCount"],
            )
            messages = answer.get("Messages") or []
            if not messages:
                break
            items.extend(
                QueueItem(
                    ChangeEvent.from_json(json.loads(m["Body"])),
                    m["ReceiptHandle"],
                    int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                )
                for m in messages
            )
        return items

    def ack(self, items: Sequence[QueueItem]) -> None:
        for chunk in _chunks(items):
            entries = [{"Id": str(i), "ReceiptHandle": item.receipt} for i, item in enumerate(chunk)]
            self._call("delete_message_batch", QueueUrl=self.queue_url, Entries=entries)

    def release(self, items: Sequence[QueueItem], delay: float) -> None:
        for chunk in _chunks(items):
            entries = [
                {
                    "Id": str(i),
                    "ReceiptHandle": item.receipt,
                    "VisibilityTimeout": min(MAX_VISIBILITY, math.ceil(delay)),
                }
                for i, item in enumerate(chunk)
            ]
            self._call("change_message_visibility_batch", QueueUrl=self.queue_url, Entries=entries)

    def defer(self, items: Sequence[QueueItem], delay: float) -> None:
        """A fresh copy of each message, delayed, then the received one deleted: SQS cannot un-count a receive."""
        for chunk in _chunks(items):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(item.event.to_json()),
                    "DelaySeconds": min(MAX_DELAY, max(0, math.ceil(delay))),
                }
                for i, item in enumerate(chunk)
            ]
            self._call("send_message_batch", QueueUrl=self.queue_url, Entries=entries)
        self.ack(items)

    def settle(self, batch: Settlement, state: StateStore) -> None:
        settle_in_order(self, state, batch)

    def dead_letter(self, items: Sequence[QueueItem], reason: str) -> None:
        self._send_dead(items, reason)
        self.ack(items)

    def dead_letter_events(self, events: Sequence[ChangeEvent], reason: str) -> None:
        self._send_dead([QueueItem(e, "", 0) for e in events], reason)

    def _send_dead(self, items: Sequence[QueueItem], reason: str) -> None:
        now = datetime.now(UTC).isoformat()
        for chunk in _chunks(items):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(item.event.to_json()),
                    "MessageAttributes": {
                        "reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
                        "failed_at": {"DataType": "String", "StringValue": now},
                        "attempts": {"DataType": "Number", "StringValue": str(item.attempts)},
                    },
                }
                for i, item in enumerate(chunk)
            ]
            self._call("send_message_batch", QueueUrl=self.dlq_url, Entries=entries)

    def _receive_dead(self, visibility: int, limit: int) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < limit:
            answer = self._call(
                "receive_message",
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=MAX_BATCH,
                VisibilityTimeout=visibility,
                WaitTimeSeconds=0,
                AttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages") or []
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
        return list(seen.values())[:limit]

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        # Visibility 0: looking does not hide them from the next look (or from a replay).
        letters = []
        for message in self._receive_dead(0, limit):
            attributes = message.get("MessageAttributes") or {}

            def text(name: str, default: str, attrs: dict[str, Any] = attributes) -> str:
                return str(attrs.get(name, {}).get("StringValue", default))

            failed = text("failed_at", datetime.now(UTC).isoformat())
            letters.append(
                DeadLetter(
                    message["MessageId"],
                    ChangeEvent.from_json(json.loads(message["Body"])),
                    text("reason", "exceeded the queue's maxReceiveCount (redriven by SQS)"),
                    datetime.fromisoformat(failed),
                    int(text("attempts", message.get("Attributes", {}).get("ApproximateReceiveCount", "0"))),
                )
            )
        return letters

    def replay(self, ids: Sequence[str] | None = None) -> int:
        wanted = None if ids is None else set(ids)
        moved = 0
        for message in self._receive_dead(30, 10_000):
            if wanted is not None and message["MessageId"] not in wanted:
                continue
            self._call("send_message", QueueUrl=self.queue_url, MessageBody=message["Body"])
            self._call("delete_message", QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
        return moved

    def stats(self) -> QueueStats:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        main = self._call("get_queue_attributes", QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        dead = self._call("get_queue_attributes", QueueUrl=self.dlq_url, AttributeNames=names)["Attributes"]
        depth = sum(int(main.get(n, 0)) for n in names)
        # The age of the oldest message is a CloudWatch metric, not a queue attribute.
        return QueueStats(depth, None, sum(int(dead.get(n, 0)) for n in names))
