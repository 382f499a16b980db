"""Secrets from SSM Parameter Store, read at run time by parameter name and cached per container.

For every `SSM_<NAME>=/param/path` in the environment, `<NAME>` is filled with the
decrypted parameter, so secrets never sit in plain-text environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration.errors import LeadthermError, MissingSetting

PREFIX = "SSM_"


class SecretsUnavailable(LeadthermError):
    """Parameter Store could not be read."""


def resolve_secrets(env: Mapping[str, str], ssm: Any | None = None) -> dict[str, str]:
    wanted = {key.removeprefix(PREFIX): name for key, name in env.items() if key.startswith(PREFIX) and name}
    resolved = dict(env)
    if not wanted:
        return resolved
    # Imported once a secret is wanted: a handler with none set (or a test) does not load boto3 for nothing.
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = ssm or boto3.client("ssm")
    names = sorted(set(wanted.values()))
    values: dict[str, str] = {}
    try:
        for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
            answer = client.get_parameters(Names=names[start : start + 10], WithDecryption=True)
            values.update({p["Name"]: p["Value"] for p in answer["Parameters"]})
    except (BotoCoreError, ClientError) as exc:
        raise SecretsUnavailable(f"cannot read SSM parameters: {type(exc).__name__}") from exc
    for variable, name in wanted.items():
        if name not in values:
            raise MissingSetting(variable, f"SSM parameter {name} does not exist or is not readable")
        resolved[variable] = values[name]
    return resolved
