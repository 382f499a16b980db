"""The admins' drafts on the state store's DynamoDB table: item `draft#<author>` / `draft`, payload JSON.

A draft is the admin's copy of the rules files (tens of KB), well under DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.aws.dynamodb_state import StateError
from integration.ports import Draft
from integration.ports.codec import dump_draft, load_draft


def _key(author: str) -> dict[str, Any]:
    return {"pk": {"S": f"draft#{author}"}, "sk": {"S": "draft"}}


class DynamoDrafts:
    """DraftStore on the state store's table."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.dynamodb, operation)(TableName=self.table, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StateError(f"DynamoDB {operation} failed: {exc}") from exc
        return answer

    def load_draft(self, author: str) -> Draft | None:
        item = self._call("get_item", Key=_key(author), ConsistentRead=True).get("Item")
        return None if item is None else load_draft(str(item["payload"]["S"]))

    def save_draft(self, author: str, draft: Draft) -> None:
        self._call("put_item", Item={**_key(author), "payload": {"S": dump_draft(draft)}})

    def drop_draft(self, author: str) -> None:
        self._call("delete_item", Key=_key(author))
