"""Every metric leadtherm reports, declared once: name, kind, meaning, labels and unit.

The Prometheus and Embedded Metric Format sinks build their metrics from this table and
refuse any other name; the README's Operations table is checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class MetricName:
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    unit: str = "Count"  # the CloudWatch unit: Count, Seconds or None

    @property
    def short(self) -> str:
        """The CloudWatch metric name: without the prefix and Prometheus' _total."""
        return self.name.removeprefix("leadtherm_").removesuffix("_total")


DECLARED: dict[str, MetricName] = {}


def _declare(name: str, kind: Kind, help: str, labels: tuple[str, ...] = (), unit: str = "Count") -> str:
    DECLARED[name] = MetricName(name, kind, help, labels, unit)
    return name


C, G, H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM

WEBHOOK_REQUESTS = _declare("leadtherm_webhook_requests_total", C, "Webhook requests received.", ("route",))
WEBHOOK_ACKNOWLEDGED = _declare(
    "leadtherm_webhook_acknowledged_total", C, "Webhook requests acknowledged (2xx, events queued).", ("route",)
)
WEBHOOK_EVENTS_QUEUED = _declare(
    "leadtherm_webhook_events_queued_total", C, "Events queued by acknowledged webhook requests.", ("route",)
)
WEBHOOK_REJECTED = _declare(
    "leadtherm_webhook_rejected_total",
    C,
    "Webhook requests refused, by reason (unauthorized, bad_request, too_large, unavailable, ...).",
    ("route", "reason"),
)
QUEUE_DEPTH = _declare("leadtherm_queue_depth", G, "Events waiting in the queue (read at scrape time).", unit="None")
QUEUE_OLDEST_AGE = _declare(
    "leadtherm_queue_oldest_age_seconds", G, "Age of the oldest waiting event, 0 when none.", unit="Seconds"
)
DEAD_LETTERS = _declare("leadtherm_dead_letters", G, "Events held in the dead-letter queue.", unit="None")
EVENTS_DEAD_LETTERED = _declare(
    "leadtherm_events_dead_lettered_total", C, "Events dead-lettered by the pipeline.", ("crm",)
)
RECORDS_ASSESSED = _declare("leadtherm_records_assessed_total", C, "Records fetched and assessed.", ("crm",))
RECORDS_WRITTEN = _declare("leadtherm_records_written_total", C, "Records whose outputs were written.", ("crm",))
RECORDS_UNCHANGED = _declare(
    "leadtherm_records_unchanged_total", C, "Records assessed with nothing to write.", ("crm",)
)
PASS_SECONDS = _declare(
    "leadtherm_pass_seconds", H, "Duration of one pipeline pass over a leased batch.", unit="Seconds"
)
CRM_API_CALLS = _declare("leadtherm_crm_api_calls_total", C, "CRM API requests, by call.", ("crm", "call"))
CRM_RATE_LIMITED = _declare("leadtherm_crm_rate_limited_total", C, "CRM answers of 429 (rate limited).", ("crm",))
CRM_PAUSES = _declare("leadtherm_crm_pauses_total", C, "Times a CRM was paused by a CRM-wide failure.", ("crm",))
CRM_PAUSED = _declare("leadtherm_crm_paused", G, "1 while a CRM is paused, else 0.", ("crm",), unit="None")
INTAKE_LAG = _declare(
    "leadtherm_intake_lag_seconds",
    G,
    "How far a background intake (CDC, the webhooks journal) is behind the CRM.",
    ("crm", "intake"),
    unit="Seconds",
)
CONSOLE_APPLIES = _declare("leadtherm_console_applies_total", C, "Rule versions applied from the console.")
