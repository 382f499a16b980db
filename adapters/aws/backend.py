"""The `aws` backend entry point: SQS and DynamoDB named by the environment serverless.yml sets."""

from __future__ import annotations

from integration.composition.plugins import Env
from integration.errors import MissingSetting
from integration.ports import StateStore, WorkQueue


class AwsBackend:
    def open(self, env: Env) -> tuple[WorkQueue, StateStore]:
        import boto3  # only where AWS is the platform

        from adapters.aws.dynamodb_state import DynamoStateStore
        from adapters.aws.sqs_queue import SqsWorkQueue

        for name in ("LEADTHERM_QUEUE_URL", "LEADTHERM_DLQ_URL", "LEADTHERM_TABLE"):
            if not env.get(name):
                raise MissingSetting(name, "set by serverless.yml for the aws backend")
        # AWS_ENDPOINT_URL (honoured by boto3 itself) points both at a local server in tests.
        sqs = boto3.client("sqs")
        dynamodb = boto3.client("dynamodb")
        return (
            SqsWorkQueue(sqs, env["LEADTHERM_QUEUE_URL"], env["LEADTHERM_DLQ_URL"]),
            DynamoStateStore(dynamodb, env["LEADTHERM_TABLE"]),
        )

    def existing(self, env: Env) -> str:
        for name in ("LEADTHERM_QUEUE_URL", "LEADTHERM_TABLE"):
            if not env.get(name):
                raise MissingSetting(name, "set by serverless.yml for the aws backend")
        return f"SQS {env['LEADTHERM_QUEUE_URL']} and DynamoDB table {env['LEADTHERM_TABLE']}"


backend = AwsBackend()
