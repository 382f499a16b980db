"""`leadtherm setup hubspot`, company side: the company outputs in a `leadtherm` group, and the subscriptions to add."""

from __future__ import annotations

from hubspot import HubSpot

from adapters.hubspot.field_setup import FIELD_TYPES, PropertySpec, ensure_properties
from integration.composition.plugins import SetupReport
from mappings.catalogue import COMPANY_OUTPUT_BY_KEY, OPTIONS
from mappings.company import CompanyMapping

OBJECT = "companies"


def company_specs(mapping: CompanyMapping) -> list[PropertySpec]:
    specs = []
    for key, field in mapping.outputs.items():
        output = COMPANY_OUTPUT_BY_KEY[key]
        if field:
            label = f"Company {output.label}"
            kinds = FIELD_TYPES[output.value]
            about = "Written by leadtherm (rolled up from the company's people)"
            specs.append(PropertySpec(field, label, *kinds, OPTIONS.get(output.value, ()), about))
    return specs


def setup_companies(api: HubSpot, mapping: CompanyMapping, report: SetupReport) -> None:
    """Create what is missing on companies, idempotently; add the subscriptions to `report.instructions`."""
    specs = company_specs(mapping)
    existing = ensure_properties(api, OBJECT, specs, report, what="company property")
    for name in sorted(set(mapping.read_fields) - {s.name for s in specs} - set(existing)):
        report.missing.append(f"company property {name} (read by the company score)")
    report.instructions.extend(company_instructions(mapping))


def company_instructions(mapping: CompanyMapping) -> list[str]:
    watched = sorted(mapping.trigger_fields - {mapping.id_field})
    return [
        "Company scores: in the same app's webhooks, also subscribe to:",
        "  company.creation, company.deletion, and company.propertyChange for each property they read:",
        *[f"    {name}" for name in watched],
        "  (a contact's own changes re-score its company: no subscription needed for that)",
    ]
