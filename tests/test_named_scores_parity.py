"""Parity of the named scores: the example exports' people fall in the same segments in HubSpot and Salesforce,
and get the same temperature and stage there, but for the signals one CRM cannot hold (tests/test_crm_parity.py).

The worked example's two products (examples/named_scores) are scored on the generated people of
examples/hubspot_contacts.csv and examples/salesforce_leads.csv.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.hubspot.flatten import flatten as hubspot_flatten
from adapters.salesforce.flatten import flatten as salesforce_flatten
from examples import generate
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess, segment_holds
from integration.files.exports import read_export
from mappings.loader import Config, load_scoring
from mappings.schema import ScoreDefinition
from tests.test_crm_parity import INEXPRESSIBLE
from tests.test_named_scores import admin_folder


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return load_scoring(["hubspot", "salesforce"], admin_folder(Path(tmp_path_factory.mktemp("named"))))


def _rows(name: str, flatten: Any) -> list[dict[str, Any]]:
    return [flatten(row.record)[1] for row in read_export(generate.HERE / name)]


PEOPLE = list(zip(_rows("hubspot_contacts.csv", hubspot_flatten), _rows("salesforce_leads.csv", salesforce_flatten),
                  strict=True))  # fmt: skip
HUBSPOT_ONLY = frozenset(f for s in INEXPRESSIBLE for f in s.hubspot)
SALESFORCE_ONLY = frozenset(f for s in INEXPRESSIBLE for f in s.salesforce)


def _without(record: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in fields}


def _scores(config: Config) -> list[ScoreDefinition]:
    assert [s.name for s in config.scores] == ["analytics", "stores"]
    return config.scores


def test_each_person_is_in_the_same_segments_in_both_crms(config: Config) -> None:
    hubspot, salesforce = Normalizer(config.mappings["hubspot"]), Normalizer(config.mappings["salesforce"])
    for score in _scores(config):
        inside = [
            (segment_holds(score.segment, hubspot.lead(hs).values, generate.REFERENCE),
             segment_holds(score.segment, salesforce.lead(sf, "Lead").values, generate.REFERENCE))
            for hs, sf in PEOPLE
        ]  # fmt: skip
        assert [a for a, b in inside if a != b] == [], score.name
        assert 0 < sum(a for a, _ in inside) < len(PEOPLE), f"{score.name}: a segment must include and exclude"


def test_each_person_gets_the_same_named_temperatures_and_stages_but_for_inexpressible_signals(config: Config) -> None:
    hubspot, salesforce = Normalizer(config.mappings["hubspot"]), Normalizer(config.mappings["salesforce"])
    differ = []
    for score in _scores(config):
        for hs, sf in PEOPLE:
            a = hubspot.lead(_without(hs, HUBSPOT_ONLY))
            b = salesforce.lead(_without(sf, SALESFORCE_ONLY), "Lead")
            if not segment_holds(score.segment, a.values, generate.REFERENCE):
                continue
            first, second = assess(a, score.rules, generate.REFERENCE), assess(b, score.rules, generate.REFERENCE)
            if (first.temperature, first.stage) != (second.temperature, second.stage):
                differ.append(f"{score.name} {hs['hs_object_id']}: {first.temperature} vs {second.temperature}")
    assert differ == []
