"""The default mappings read only what real CRMs have: standard fields, or the ones `leadtherm setup` creates."""

from __future__ import annotations

import re
from pathlib import Path

from leadtherm_sandboxes.hubspot.sandbox import STANDARD_PROPERTIES
from leadtherm_sandboxes.salesforce.sandbox import STANDARD

from adapters.hubspot.field_setup import property_specs
from adapters.salesforce.field_setup import field_specs
from mappings.loader import load_mapping
from tests.real_crm_fields import (
    HUBSPOT_COMPANY_ONLY,
    HUBSPOT_CONTACT_PROPERTIES,
    SALESFORCE_RELATIONSHIPS,
    SALESFORCE_STANDARD_FIELDS,
)


def test_every_property_the_default_hubspot_mapping_reads_is_a_real_contact_property_or_created_by_setup() -> None:
    mapping = load_mapping("hubspot")
    created = {spec.name for spec in property_specs(mapping)}
    invented = [f for f in mapping.read_fields if f not in HUBSPOT_CONTACT_PROPERTIES and f not in created]
    assert invented == []
    assert not HUBSPOT_COMPANY_ONLY & set(mapping.read_fields)


def test_the_hubspot_sandbox_offers_the_real_default_contact_properties_and_no_company_ones() -> None:
    assert set(STANDARD_PROPERTIES) == HUBSPOT_CONTACT_PROPERTIES


def _salesforce_field(object_type: str, name: str) -> bool:
    """A standard field of the object, or a standard parent's through standard relationships (`Account.Industry`)."""
    relationship, dot, parent_field = name.partition(".")
    if not dot:
        return name in SALESFORCE_STANDARD_FIELDS[object_type]
    parent = SALESFORCE_RELATIONSHIPS.get(object_type, {}).get(relationship)
    return parent is not None and _salesforce_field(parent, parent_field)


def _salesforce_has(name: str, objects: list[str]) -> bool:
    return any(_salesforce_field(o, name) for o in objects)


def test_a_relationship_path_counts_only_when_its_relationship_and_parent_field_are_standard() -> None:
    assert _salesforce_has("Account.Industry", ["Lead", "Contact"])
    assert not _salesforce_has("Account.Industry", ["Lead"])  # a Lead has no Account relationship
    assert not _salesforce_has("Account.Invented", ["Contact"])
    assert not _salesforce_has("Company.Industry", ["Contact"])


def test_every_field_the_default_salesforce_mapping_reads_is_a_standard_field_or_created_by_setup() -> None:
    mapping = load_mapping("salesforce")
    created = {spec.name for spec in field_specs(mapping)}
    invented = [f for f in mapping.read_fields if f not in created and not _salesforce_has(f, mapping.objects)]
    assert invented == []


def test_the_salesforce_sandbox_invents_no_standard_lead_contact_or_opportunity_field() -> None:
    for object_type, real in SALESFORCE_STANDARD_FIELDS.items():
        assert set(STANDARD[object_type]) - real == set(), object_type


def test_the_readme_names_exactly_the_hubspot_properties_the_default_mapping_reads() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Which HubSpot properties it reads")[1].split("A test holds this list")[0]
    mapping = load_mapping("hubspot")
    created = {spec.name for spec in property_specs(mapping)}
    assert set(re.findall(r"`(\w+)`", section)) - {"hubspot", "hubspot.yaml"} == (
        set(mapping.read_fields) - created - {mapping.id_field}
    )
