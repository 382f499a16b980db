"""Which webhook routes the configured CRMs serve, and whether each can verify a delivery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from integration.composition.runtime import Runtime
from integration.errors import LeadthermError
from integration.ports.inbound import InboundRoute


class NoVerifiableRoute(LeadthermError):
    """A CRM whose every route would refuse every delivery: its secrets are not set (exit 2, one line)."""


def routes_of(runtime: Runtime, env: Mapping[str, str]) -> list[InboundRoute]:
    return [r for routes in routes_by_crm(runtime, env).values() for r in routes]


def routes_by_crm(runtime: Runtime, env: Mapping[str, str]) -> dict[str, list[InboundRoute]]:
    return {name: p.routes(runtime.mappings[name], env) for name, p in runtime.plugins.items()}


def check_verification(routes: Mapping[str, Sequence[InboundRoute]]) -> list[tuple[str, str]]:
    """(path, reason) of routes that cannot verify; NoVerifiableRoute if a CRM has no route that can."""
    warnings: list[tuple[str, str]] = []
    for crm, crm_routes in routes.items():
        problems = {r.path: reason for r in crm_routes if (reason := r.cannot_verify())}
        if crm_routes and len(problems) == len(crm_routes):
            detail = "; ".join(f"{path}: {reason}" for path, reason in problems.items())
            raise NoVerifiableRoute(
                f"{crm}: no webhook route could verify a delivery ({detail}); every delivery would be refused. "
                f"Set the secret, or serve only the other CRMs with --crm"
            )
        warnings += problems.items()
    return warnings
