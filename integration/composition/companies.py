"""Wire company / account scores: for each CRM whose mapping has a `company:` section and whose plugin can.

A plugin opts in with `companies(client, mapping) -> CompanyClient` (duck-typed, so a third-party plugin
without company support needs no change); its client is built on the contact client's own session.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from integration.composition.plugins import CrmPlugin
from integration.errors import ConfigError, Problem
from integration.ports.companies import CompanyClient
from integration.service.companies import CompanyBinding, CompanyStep, GuardedCompanies
from integration.service.guard import GuardedClient
from integration.service.rules_provider import StoreRulesProvider
from mappings.company import COMPANY_RULES_FILE, load_company_rules, unknown_attributes
from mappings.loader import mappings_dir
from mappings.schema import CrmMapping


def company_step(
    plugins: Mapping[str, CrmPlugin],
    clients: Mapping[str, GuardedClient],
    mappings: Mapping[str, CrmMapping],
    folder: str | Path | None,
    provider: StoreRulesProvider | None = None,
) -> CompanyStep | None:
    """The company step, or None when no CRM in use scores companies (or no `scoring.company.yaml` exists).

    With a `provider`, the rules follow the rules store's head as the people's do (applied, not restarted).
    """
    bindings: dict[str, CompanyBinding] = {}
    for name, mapping in mappings.items():
        factory = getattr(plugins[name], "companies", None)
        if mapping.company is None or factory is None:
            continue
        inner: CompanyClient = factory(clients[name].unguarded(), mapping.company)
        bindings[name] = CompanyBinding(GuardedCompanies(inner, clients[name]), mapping.company)
    if not bindings or not (mappings_dir(folder) / COMPANY_RULES_FILE).exists():
        return None
    rules = load_company_rules(folder)
    unknown = unknown_attributes(rules, {name: b.mapping for name, b in bindings.items()})
    if unknown:
        raise ConfigError([Problem(COMPANY_RULES_FILE, None, f"fit[{i}].attribute", why) for i, why in unknown])
    if provider is None:
        return CompanyStep(rules, bindings)
    return CompanyStep(lambda: provider.company_rules(rules), bindings)
