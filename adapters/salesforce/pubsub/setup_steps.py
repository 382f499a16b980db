"""What an admin does by hand for Change Data Capture (printed by `leadtherm setup salesforce`)."""

from __future__ import annotations

from adapters.salesforce.pubsub.translate import topic_of
from mappings.schema import CrmMapping


def cdc_instructions(mapping: CrmMapping) -> list[str]:
    entities = [topic_of(o).removeprefix("/data/") for o in mapping.objects]
    return [
        "Or, instead of outbound messages: Change Data Capture through the Pub/Sub API (no automation per object):",
        "  1. Setup > Integrations > Change Data Capture: move " + ", ".join(mapping.objects) + " to Selected",
        "     Entities (5 per org without the add-on). Through the Metadata API, the same selection is a",
        "     PlatformEventChannelMember per entity on channel ChangeEvents: " + ", ".join(entities) + ".",
        "  2. The integration user needs the 'View All Data' (or 'View All' on each object) permission",
        "     that CDC requires, and API access.",
        "  3. Run `leadtherm listen salesforce` (or `serve` with SALESFORCE_CDC=1, or the `cdc` function on AWS);",
        "     it subscribes to " + ", ".join(topic_of(o) for o in mapping.objects) + " (SALESFORCE_CDC_TOPICS).",
        "     The first start begins at the newest event; SALESFORCE_CDC_START=EARLIEST replays the last 72 hours.",
        "  Use one intake, not both: with both, every change is processed twice (harmlessly, but at twice the cost).",
    ]
