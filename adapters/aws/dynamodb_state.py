"""The StateStore on one DynamoDB table (single-table design).

| item | pk | sk | other attributes |
|---|---|---|---|
| last assessment | `rec#<ref>` | `state` | payload; `due_pk`="due" and `next_drop_at` when a drop is predicted |
| processed event id | `evt#<id>` | `processed` | `expires_at` (epoch seconds; the table's TTL attribute) |
| audit entry | `rec#<ref>` | `audit#<iso time>#<digest of the entry>` | payload |
| cursor | `cursor#<name>` | `cursor` | value |
| CRM pause | `pause#<crm>` | `pause` | record (why and since when; integration/service/pause.py) |

Versions before the pause items kept a pause as the cursor `pause:<crm>`: `get_pause` still reads
that item when there is no pause item, and every `set_pause` deletes it.
| admin's draft | `draft#<author>` | `draft` | payload (adapters/aws/dynamodb_drafts.py) |

`due()` queries the sparse global secondary index `due` (`due_pk`, `next_drop_at`): only
records with a predicted drop are in it, so a sweep reads just the due ones. DynamoDB's TTL
deletes expired items lazily, so expiry is also checked on read. An audit entry's key is
a digest of its content, so replaying a pass's settlement after a crash writes it once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration.errors import LeadthermError
from integration.ports import AuditEntry, DraftStore, RecordQuery, RecordRef, StoredAssessment, StoredPage
from integration.ports.codec import dump_assessment, dump_audit, load_assessment, load_audit

DUE_INDEX = "due"


class StateError(LeadthermError):
    """DynamoDB refused or failed a request."""


def _digest(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _record_key(ref: RecordRef) -> dict[str, Any]:
    return {"pk": {"S": f"rec#{ref}"}, "sk": {"S": "state"}}


def _pause_key(crm: str) -> dict[str, Any]:
    return {"pk": {"S": f"pause#{crm}"}, "sk": {"S": "pause"}}


def _former_pause_key(crm: str) -> dict[str, Any]:
    """Where versions before the pause items kept a pause: among the cursors, as `pause:<crm>`."""
    return {"pk": {"S": f"cursor#pause:{crm}"}, "sk": {"S": "cursor"}}


class DynamoStateStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.calls = 0  # requests made, for the benchmarks

    def drafts(self) -> DraftStore:
        """The admins' drafts, on the same table."""
        from adapters.aws.dynamodb_drafts import DynamoDrafts

        return DynamoDrafts(self.dynamodb, self.table)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        try:
            answer: dict[str, Any] = getattr(self.dynamodb, operation)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StateError(f"DynamoDB {operation} failed: {exc}") from exc
        return answer

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):  # BatchGetItem takes at most 100 keys
            request: dict[str, Any] = {self.table: {"Keys": keys[start : start + 100]}}
            while request:
                answer = self._call("batch_get_item", RequestItems=request)
                items.extend(answer.get("Responses", {}).get(self.table, []))
                request = answer.get("UnprocessedKeys") or {}
        return items

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):  # BatchWriteItem takes at most 25 requests
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            while pending:
                pending = self._call("batch_write_item", RequestItems=pending).get("UnprocessedItems") or {}

    def load(self, refs: Sequence[RecordRef]) -> dict[RecordRef, StoredAssessment]:
        unique = list(dict.fromkeys(refs))
        items = self._batch_get([_record_key(r) for r in unique])
        return {RecordRef.parse(i["pk"]["S"].removeprefix("rec#")): load_assessment(i["payload"]["S"]) for i in items}

    def save(self, ref: RecordRef, state: StoredAssessment) -> None:
        self.save_many({ref: state})

    def save_many(self, states: Mapping[RecordRef, StoredAssessment]) -> None:
        requests = []
        for ref, state in states.items():
            item = {**_record_key(ref), "payload": {"S": dump_assessment(state)}}
            if state.next_drop_at is not None:
                item["due_pk"] = {"S": "due"}
                item["next_drop_at"] = {"N": str(Decimal(str(state.next_drop_at.timestamp())))}
            requests.append({"PutRequest": {"Item": item}})
        self._batch_write(requests)

    def forget(self, ref: RecordRef) -> None:
        self._call("delete_item", TableName=self.table, Key=_record_key(ref))

    def due(self, now: datetime, limit: int) -> list[RecordRef]:
        refs: list[RecordRef] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_pk = :due AND next_drop_at <= :now",
            "ExpressionAttributeValues": {":due": {"S": "due"}, ":now": {"N": str(now.timestamp())}},
            "ScanIndexForward": True,
        }
        while len(refs) < limit:
            answer = self._call("query", Limit=limit - len(refs), **kwargs)
            refs.extend(RecordRef.parse(i["pk"]["S"].removeprefix("rec#")) for i in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return refs

    def unprocessed(self, event_ids: Sequence[str]) -> set[str]:
        unique = list(dict.fromkeys(event_ids))
        now = time.time()
        items = self._batch_get([{"pk": {"S": f"evt#{i}"}, "sk": {"S": "processed"}} for i in unique])
        seen = {i["pk"]["S"].removeprefix("evt#") for i in items if float(i["expires_at"]["N"]) > now}
        return set(unique) - seen

    def mark_processed(self, event_ids: Sequence[str], expires_at: datetime) -> None:
        expires = str(int(expires_at.timestamp()))
        self._batch_write(
            [
                {
                    "PutRequest": {
                        "Item": {"pk": {"S": f"evt#{i}"}, "sk": {"S": "processed"}, "expires_at": {"N": expires}}
                    }
                }
                for i in dict.fromkeys(event_ids)
            ]
        )

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        # One request may not put the same key twice: identical entries are one entry.
        unique = {dump_audit(e): e for e in entries}
        self._batch_write(
            [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": f"rec#{e.ref}"},
                            "sk": {"S": f"audit#{e.at.isoformat()}#{_digest(payload)}"},
                            "payload": {"S": payload},
                        }
                    }
                }
                for payload, e in unique.items()
            ]
        )

    def audit(self, ref: RecordRef, limit: int = 50) -> list[AuditEntry]:
        answer = self._call(
            "query",
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
            ExpressionAttributeValues={":pk": {"S": f"rec#{ref}"}, ":audit": {"S": "audit#"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [load_audit(i["payload"]["S"]) for i in answer.get("Items", [])]

    def search(self, query: RecordQuery, cursor: str | None, limit: int) -> StoredPage:
        """Matching records after `cursor`, a scan page of `limit` items at a time (never the whole table).

        The table has no index by company or temperature: the scan reads the stored states only
        (a filter on the sort key) and `RecordQuery.matches` picks among them. The cursor is the
        key of the last item looked at, so a page may end anywhere in a scan page.
        """
        found: list[tuple[RecordRef, StoredAssessment]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :state AND begins_with(pk, :rec)",
            "ExpressionAttributeValues": {":state": {"S": "state"}, ":rec": {"S": "rec#"}},
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": cursor}, "sk": {"S": "state"}}
        while True:
            answer = self._call("scan", Limit=limit, **kwargs)
            for item in answer.get("Items", []):
                ref = RecordRef.parse(item["pk"]["S"].removeprefix("rec#"))
                state = load_assessment(item["payload"]["S"])
                if query.matches(ref, state):
                    found.append((ref, state))
                    if len(found) == limit:
                        return StoredPage(found, item["pk"]["S"])
            if "LastEvaluatedKey" not in answer:
                return StoredPage(found, None)
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def get_cursor(self, name: str) -> str | None:
        answer = self._call(
            "get_item", TableName=self.table, Key={"pk": {"S": f"cursor#{name}"}, "sk": {"S": "cursor"}}
        )
        item = answer.get("Item")
        return None if item is None else str(item["value"]["S"])

    def set_cursor(self, name: str, value: str | None) -> None:
        key = {"pk": {"S": f"cursor#{name}"}, "sk": {"S": "cursor"}}
        if value is None:
            self._call("delete_item", TableName=self.table, Key=key)
        else:
            self._call("put_item", TableName=self.table, Item={**key, "value": {"S": value}})

    def get_pause(self, crm: str) -> str | None:
        # A table written by an earlier version may hold the pause where it kept it then: read both at once.
        found = {i["pk"]["S"]: i for i in self._batch_get([_pause_key(crm), _former_pause_key(crm)])}
        item = found.get(_pause_key(crm)["pk"]["S"])
        if item is not None:
            return str(item["record"]["S"])
        former = found.get(_former_pause_key(crm)["pk"]["S"])
        return None if former is None else str(former["value"]["S"])

    def set_pause(self, crm: str, record: str | None) -> None:
        # Every write also drops the former item, in the same request: the first probe or resume migrates it.
        change = (
            {"DeleteRequest": {"Key": _pause_key(crm)}}
            if record is None
            else {"PutRequest": {"Item": {**_pause_key(crm), "record": {"S": record}}}}
        )
        self._batch_write([change, {"DeleteRequest": {"Key": _former_pause_key(crm)}}])
