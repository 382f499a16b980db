"""What every installed CRM plugin declares, so the core can loop over plugins and name none."""

from __future__ import annotations

import pytest

from integration.composition.plugins import crm_names, load_crm, load_sandbox
from integration.composition.runtime import NothingConfigured, build_runtime
from integration.ports.inbound import InboundRoute
from mappings.loader import load_mapping
from mappings.mapped_objects import mapped_objects

CRMS = crm_names()


@pytest.mark.parametrize("crm", CRMS)
def test_every_plugin_declares_settings_it_says_how_to_configure_with(crm: str) -> None:
    plugin = load_crm(crm)
    declared = {s.name for s in plugin.settings()}
    assert declared, f"{crm} declares no settings"
    named = {word.strip("(),/") for word in plugin.how_to_configure().split()}
    assert named & declared, f"{crm}: its configure hint names none of its declared settings"


@pytest.mark.parametrize("crm", CRMS)
def test_every_plugins_calibration_outcome_is_a_yes_no_attribute_of_its_mapping(crm: str) -> None:
    mapping = load_mapping(crm)
    found = mapping.attribute(load_crm(crm).calibration.outcome)
    assert found is not None and found.kind == "boolean"


@pytest.mark.parametrize("crm", CRMS)
def test_every_route_says_whether_it_can_verify(crm: str) -> None:
    routes = load_crm(crm).routes(load_mapping(crm), {})
    assert routes and all(isinstance(r.cannot_verify(), str) for r in routes)  # no secrets set: none can


@pytest.mark.parametrize("crm", CRMS)
def test_every_plugins_routes_built_from_the_light_read_of_its_mapping_are_the_ones_the_validated_mapping_makes(
    crm: str,
) -> None:
    # The Lambda HTTP handler gives the routes mappings.mapped_objects' read, not the validated mapping.
    def shown(routes: list[InboundRoute]) -> list[tuple[str, object]]:
        return [(r.path, getattr(r, "objects", None)) for r in routes]

    plugin = load_crm(crm)
    assert shown(plugin.routes(mapped_objects(crm), {})) == shown(plugin.routes(load_mapping(crm), {}))


@pytest.mark.parametrize("crm", CRMS)
def test_a_plugins_sandbox_is_an_emulator_of_the_sandboxes_package(crm: str) -> None:
    if load_crm(crm).sandbox() is not None:
        assert callable(load_sandbox(crm))


def test_nothing_configured_says_what_configures_each_installed_crm() -> None:
    with pytest.raises(NothingConfigured) as raised:
        build_runtime({"LEADTHERM_DB": ":memory:"})
    for crm in CRMS:
        assert load_crm(crm).how_to_configure() in str(raised.value)
