"""The long fuzz run: thousands of signed, malformed requests per route through waitress; 0 x 500."""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.webhooks.fuzzing import ALLOWED, fuzz_route, served

EXAMPLES_PER_ROUTE = 2000
_ROUTES = {"hubspot": "POST /webhooks/hubspot", "outbound": "POST /webhooks/salesforce", "flow": "POST /webhooks/salesforce/flow"}  # fmt: skip


def run() -> str:
    rows = []
    total_5xx = 0
    quiet = logging.getLogger("leadtherm")
    level, quiet.level = quiet.level, logging.ERROR  # thousands of rejections: the figures are the point
    with tempfile.TemporaryDirectory() as folder, served(Path(folder)) as server:
        for route, label in _ROUTES.items():
            tally: Counter[int] = Counter()
            started = time.perf_counter()
            fuzz_route(server, route, EXAMPLES_PER_ROUTE, tally, strict=False)
            seconds = time.perf_counter() - started
            sent = sum(tally.values())
            accepted = sum(n for status, n in tally.items() if 200 <= status < 300)
            errors = sum(n for status, n in tally.items() if status >= 500)
            unexpected = sum(n for status, n in tally.items() if status not in ALLOWED[route])
            total_5xx += errors
            rows.append(
                f"| `{label}` | {sent:,} | {accepted:,} | {tally[400]:,} | {tally[401]:,} | "
                f"{unexpected:,} | **{errors}** | {sent / seconds:,.0f} |"
            )
    quiet.setLevel(level)
    return "\n".join(
        [
            "## Webhook fuzzing (real waitress server, signed malformed requests)",
            "",
            f"{EXAMPLES_PER_ROUTE:,} hypothesis-generated requests per route, signed as the CRM signs them (one in ten,",
            "two in ten for HubSpot, carry a malformed or legacy signature header instead): wrong types at every level, JSON nested",
            "1,000-100,000 deep, integers of 5,000 digits, unknown XML encodings, DTDs and entities,",
            "truncated and spliced bodies, timestamps in other scripts' digits or past year 9999.",
            "requests/s counts generating each request too (one client, sequential): it is no server figure.",
            "",
            "| route | requests | accepted (2xx) | 400 | 401 | other than 2xx/400/401 | 5xx | requests/s |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Total 5xx: **{total_5xx}** (target 0). The small version is `tests/webhooks/test_fuzz_routes.py` "
            "(300 per route, in `make test`).",
        ]
    )
