"""The optional fit x engagement output: created by `setup` when named, written to HubSpot only when it changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from harness.packaged_copy import copy_packaged
from integration.composition.runtime import Runtime, build_runtime
from integration.domain.grid import grid_cell
from integration.ports import RecordRef
from integration.service.backfill import backfill
from integration.service.worker import drain
from tests.adapters.hubspot.conftest import SECRET, TOKEN
from tests.adapters.hubspot.helpers import sandbox_env
from tests.adapters.hubspot.test_end_to_end import HOT

GRID_FIELD = "leadtherm_grid"
ENGAGEMENT = ("hs_analytics_num_page_views", "hs_analytics_num_visits", "num_conversion_events", "hs_email_open")
QUIET = dict.fromkeys(ENGAGEMENT, "0")
BUSY = dict(zip(ENGAGEMENT, ("60", "20", "6", "30"), strict=True))


def _backfill(runtime: Runtime) -> None:
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100, lambda _, n: None)
    drain(runtime.pipeline)


def _grid_writes(sandbox: HubSpotSandbox, contact: str) -> list[str]:
    return [values[GRID_FIELD] for who, values in sandbox.writes if who == contact and GRID_FIELD in values]


def _cell(runtime: Runtime, contact: str) -> str:
    """The cell of the contact's stored fit and engagement, by the rules' cut points."""
    ref = RecordRef("hubspot", "contact", contact)
    stored = runtime.state.load([ref])[ref]
    return grid_cell(stored.fit, stored.engagement, runtime.rules.grid)


@pytest.fixture
def with_grid(sandbox: HubSpotSandbox, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose HubSpot mapping names a field for the grid output, after `setup`."""
    folder = copy_packaged(tmp_path / "mappings")
    mapping = folder / "hubspot.yaml"
    text = mapping.read_text()
    assert "\n  score: leadtherm_score\n" in text
    mapping.write_text(
        text.replace("\n  score: leadtherm_score\n", f"\n  score: leadtherm_score\n  grid: {GRID_FIELD}\n")
    )
    env = sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET)
    runtime = build_runtime(env, ["hubspot"], folder)
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    yield runtime


def test_setup_creates_the_grid_field_only_when_the_mapping_names_it(sandbox: HubSpotSandbox, tmp_path: Path) -> None:
    env = sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET)
    runtime = build_runtime(env, ["hubspot"])
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    assert GRID_FIELD not in sandbox.properties
    contact = sandbox.create_contact({**HOT, "email": "cto@nordlys.example"})
    _backfill(runtime)
    assert sandbox.contact(contact).get("leadtherm_score")
    assert not sandbox.contact(contact).get(GRID_FIELD)


def test_the_grid_cell_is_written_once_and_again_only_when_it_changes(
    sandbox: HubSpotSandbox, with_grid: Runtime
) -> None:
    assert GRID_FIELD in sandbox.properties
    contact = sandbox.create_contact({**HOT, **QUIET, "email": "cto@nordlys.example", "hs_email_click": "0"})
    _backfill(with_grid)
    first = _cell(with_grid, contact)
    assert sandbox.contact(contact)[GRID_FIELD] == first
    assert _grid_writes(sandbox, contact) == [first]

    _backfill(with_grid)  # nothing changed in the CRM: the cell is not written again
    assert _grid_writes(sandbox, contact) == [first]

    sandbox.update_contact(contact, BUSY)
    _backfill(with_grid)
    second = _cell(with_grid, contact)
    assert second != first
    assert _grid_writes(sandbox, contact) == [first, second]
    assert sandbox.contact(contact)[GRID_FIELD] == second
