"""What leadtherm should have written for a CRM record as it stands: the oracle of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from integration.composition.plugins import load_crm
from integration.domain.normalize import Normalizer
from integration.domain.outputs import assessment_outputs
from integration.domain.scoring import assess
from mappings.loader import load_mapping, load_rules


def expected_outputs(crm: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Output key -> value for an API-shaped record, through the CRM's own flattening and mapping."""
    object_type, flat = load_crm(crm).flatten(record)
    lead = Normalizer(load_mapping(crm)).lead(flat, object_type)
    return assessment_outputs(assess(lead, load_rules(), datetime.now(UTC)))
