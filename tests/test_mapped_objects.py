"""The webhook edge reads which object types a mapping names without validating the file: the same names."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.packaged_copy import copy_packaged
from mappings.errors import ConfigError
from mappings.grammar import mapping_file
from mappings.loader import PACKAGED_CRMS, load_mapping
from mappings.mapped_objects import mapped_objects


@pytest.mark.parametrize("crm", PACKAGED_CRMS)
def test_the_light_read_names_the_objects_the_validated_mapping_names(crm: str) -> None:
    assert mapped_objects(crm).objects == tuple(load_mapping(crm).objects)


@pytest.mark.parametrize("crm", PACKAGED_CRMS)
def test_the_light_read_names_the_company_object_the_validated_mapping_scores(crm: str) -> None:
    assert mapped_objects(crm).company_object == load_mapping(crm).company_object is not None


def _with_objects(tmp_path: Path, spelled: str) -> Path:
    folder = copy_packaged(tmp_path / "rules")
    path = folder / mapping_file("salesforce")
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith("objects:")]
    path.write_text("\n".join([*kept, spelled, ""]), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "spelled",
    [
        "objects: [Lead]",
        "objects: ['Lead']  # only leads",
        "objects:\n  - Lead",
        'objects:\n  # the one object\n  - "Lead"',
        "objects: [\n  Lead\n]",  # a flow list over lines
        "objects:\n- Lead",  # a block list without indentation
    ],
)
def test_an_admins_mapping_of_fewer_objects_is_read_however_the_list_is_spelled(tmp_path: Path, spelled: str) -> None:
    folder = _with_objects(tmp_path, spelled)
    assert mapped_objects("salesforce", folder).objects == ("Lead",)
    assert load_mapping("salesforce", folder).objects == ["Lead"]


@pytest.mark.parametrize("spelled", ["", "objects: []", "objects: Lead", "objects: [Lead, {name: Contact}]"])
def test_a_mapping_without_a_list_of_object_names_is_refused_naming_the_file(tmp_path: Path, spelled: str) -> None:
    folder = _with_objects(tmp_path, spelled)
    with pytest.raises(ConfigError, match=r"salesforce\.yaml objects"):
        mapped_objects("salesforce", folder)


def test_a_missing_mapping_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"acme\.yaml"):
        mapped_objects("acme", tmp_path)
