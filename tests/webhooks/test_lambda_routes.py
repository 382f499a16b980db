"""The Lambda HTTP handler's routes accept the object types the admin's mapping names, read without validating it."""

from __future__ import annotations

from pathlib import Path

from adapters.salesforce.inbound import FlowCalloutRoute, OutboundMessageRoute
from harness.packaged_copy import copy_packaged
from mappings.grammar import SCORING_FILE, mapping_file
from webhooks import lambda_handlers

SALESFORCE = {
    "SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com",
    "SALESFORCE_ACCESS_TOKEN": "session",
    "SALESFORCE_ORG_ID": "00D000000000001AAA",
    "SALESFORCE_OUTBOUND_SECRET": "outbound-secret-of-32-characters",
    "SALESFORCE_CALLOUT_SECRET": "callout-secret-of-32-characters",
}


def test_the_salesforce_routes_accept_only_the_objects_the_admins_mapping_names(tmp_path: Path) -> None:
    folder = copy_packaged(tmp_path / "rules")
    path = folder / mapping_file("salesforce")
    path.write_text(path.read_text(encoding="utf-8").replace("objects: [Lead, Contact]", "objects: [Lead]"))
    env = {**SALESFORCE, "LEADTHERM_MAPPINGS": str(folder), "LEADTHERM_DB": str(tmp_path / "queue.db")}
    _, routes = lambda_handlers.inbound(env)
    outbound = [r for r in routes if isinstance(r, OutboundMessageRoute)]
    flow = [r for r in routes if isinstance(r, FlowCalloutRoute)]
    assert [route.objects for route in flow] == [("Lead",)]
    assert [route.objects for route in outbound] == [("Lead", "Account")]  # an Account's own change: its score


def test_broken_scoring_rules_do_not_stop_the_http_handler_taking_deliveries(tmp_path: Path) -> None:
    # The worker refuses them (tests/adapters/aws/test_lambda_end_to_end.py): the deliveries wait in the queue.
    folder = copy_packaged(tmp_path / "rules")
    (folder / SCORING_FILE).write_text("bogus_section: {}\n", encoding="utf-8")
    env = {**SALESFORCE, "LEADTHERM_MAPPINGS": str(folder), "LEADTHERM_DB": str(tmp_path / "queue.db")}
    _, routes = lambda_handlers.inbound(env)
    assert {r.path for r in routes} >= {"/webhooks/salesforce", "/webhooks/salesforce/flow"}
