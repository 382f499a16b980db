"""The rules store on AWS: versions in the DynamoDB table the Lambdas already read, so applying needs no redeploy.

| item | pk | sk | attributes |
|---|---|---|---|
| head | `rules` | `head` | `number` |
| version | `rules` | `v#<number, 6 digits>` | `at`, `author`, `note`, `files` (JSON), `diff` |
| reader | `rules` | `reader#<name>` | `name`, `at` (a running service that reads the table) |

An apply is one transaction, and its commit: the new version is put only if its number is free
(`attribute_not_exists`, so a record is never overwritten) and the head moves only from the
number the draft was based on, so of two consoles applying from the same head exactly one wins
and the other gets StaleDraft. Before the first apply the files in force are those deployed with
the functions (the mappings folder).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration.errors import MissingSetting
from integration.ports.rules_store import (
    Files,
    Reader,
    RulesStoreError,
    StaleDraft,
    UnknownVersion,
    Version,
    unified_diff,
    validated,
)
from mappings.grammar import FOLDER_GLOB

PK = "rules"


def _sk(number: int) -> str:
    return f"v#{number:06d}"


class _Lost(RulesStoreError):
    """The transaction's conditions failed: another apply moved the head first."""


class DynamoRulesStore:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        deployed: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        check: Callable[[Files], dict[str, str]] = validated,
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.deployed = deployed
        self.clock = clock
        self.check = check  # `check`'s loader; the race tests pass a quicker one

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.dynamodb, operation)(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise _Lost("another version was applied at the same time") from exc
            raise RulesStoreError(f"DynamoDB {operation} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise RulesStoreError(f"DynamoDB {operation} failed: {exc}") from exc
        return answer

    def _deployed_files(self) -> dict[str, str]:
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(self.deployed.glob(FOLDER_GLOB))}

    def head(self) -> int:
        item = self._call("get_item", TableName=self.table, Key={"pk": {"S": PK}, "sk": {"S": "head"}}).get("Item")
        return int(item["number"]["N"]) if item else 0

    def version(self, number: int) -> Version:
        item = self._call("get_item", TableName=self.table, Key={"pk": {"S": PK}, "sk": {"S": _sk(number)}}).get("Item")
        if not item:
            raise UnknownVersion(number)
        return _version(item)

    def current(self) -> dict[str, str]:
        head = self.head()
        return self.version(head).files if head else self._deployed_files()

    def history(self, limit: int = 100) -> list[Version]:
        answer = self._call(
            "query",
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
            ExpressionAttributeValues={":pk": {"S": PK}, ":v": {"S": "v#"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_version(item) for item in answer.get("Items", [])]

    def location(self) -> str:
        return f"DynamoDB table {self.table}"

    def _stale(self, base: int) -> StaleDraft:
        head = DynamoRulesStore.head(self)
        try:
            author = DynamoRulesStore.version(self, head).author if head else "nobody"
        except RulesStoreError:
            author = "unknown"
        return StaleDraft(base, head, author)

    def apply(self, files: Files, author: str, note: str = "", base: int | None = None) -> Version:
        head = self.head()
        if base is not None and head != base:
            raise self._stale(base)
        before = self.version(head).files if head else self._deployed_files()
        merged = self.check({**before, **files})
        made = Version(head + 1, self.clock(), author, note, merged, unified_diff(before, merged))
        values: dict[str, Any] = {":now": {"N": str(made.number)}}
        if head:
            values[":was"] = {"N": str(head)}
        condition = "#n = :was" if head else "attribute_not_exists(pk)"  # the head moves only from where we read it
        try:
            self._transact(made, values, condition)
        except _Lost:
            raise self._stale(head) from None
        return made

    def _transact(self, made: Version, values: dict[str, Any], condition: str) -> None:
        self._call(
            "transact_write_items",
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": {"S": PK},
                            "sk": {"S": _sk(made.number)},
                            "number": {"N": str(made.number)},
                            "at": {"S": made.at.isoformat()},
                            "author": {"S": made.author},
                            "note": {"S": made.note},
                            "files": {"S": json.dumps(made.files, sort_keys=True)},
                            "diff": {"S": made.diff},
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": PK}, "sk": {"S": "head"}},
                        "UpdateExpression": "SET #n = :now",
                        "ExpressionAttributeNames": {"#n": "number"},
                        "ExpressionAttributeValues": values,
                        "ConditionExpression": condition,
                    }
                },
            ],
        )

    def rollback(self, number: int, author: str) -> Version:
        return self.apply(self.version(number).files, author, f"rollback to version {number}")

    def mark_reader(self, name: str) -> None:
        self._call(
            "put_item",
            TableName=self.table,
            Item={
                "pk": {"S": PK},
                "sk": {"S": f"reader#{name}"},
                "name": {"S": name},
                "at": {"S": self.clock().isoformat()},
            },
        )

    def forget_reader(self, name: str) -> None:
        self._call("delete_item", TableName=self.table, Key={"pk": {"S": PK}, "sk": {"S": f"reader#{name}"}})

    def readers(self) -> list[Reader]:
        answer = self._call(
            "query",
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
            ExpressionAttributeValues={":pk": {"S": PK}, ":r": {"S": "reader#"}},
        )
        found = [Reader(i["name"]["S"], datetime.fromisoformat(i["at"]["S"])) for i in answer.get("Items", [])]
        return sorted(found, key=lambda r: r.at, reverse=True)


def _version(item: Mapping[str, Any]) -> Version:
    return Version(
        number=int(item["number"]["N"]),
        at=datetime.fromisoformat(item["at"]["S"]),
        author=item["author"]["S"],
        note=item.get("note", {}).get("S", ""),
        files=json.loads(item["files"]["S"]),
        diff=item.get("diff", {}).get("S", ""),
    )


def open_dynamodb_store(env: Mapping[str, str], folder: Path) -> DynamoRulesStore:
    """Entry point `leadtherm.rules_stores: dynamodb`: the table serverless.yml names (LEADTHERM_TABLE)."""
    import boto3

    table = env.get("LEADTHERM_TABLE")
    if not table:
        raise MissingSetting("LEADTHERM_TABLE", "the DynamoDB table that holds the rules versions")
    return DynamoRulesStore(boto3.client("dynamodb"), table, folder)
