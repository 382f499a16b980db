"""A synthetic HubSpot history with a known generating rule and a planted leaky column."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

# logit = -2.2 + 2.0 executive + 1.2 referral + 0.8 (20+ page views) - 1.5 free-mail (+ noise)
SOURCES = ["ORGANIC_SEARCH", "OFFLINE", "DIRECT_TRAFFIC"]
WEIGHTS = {"executive": 2.0, "referral": 1.2, "busy": 0.8, "free_mail": -1.5}


def write_history(path: Path, rows: int = 3000, seed: int = 1, leak: bool = True) -> Path:
    rng = random.Random(seed)
    columns = ["hs_object_id", "email", "jobtitle", "hs_analytics_source", "hs_analytics_num_page_views",
               "hs_lead_status", "converted"]  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for n in range(rows):
            executive = rng.random() < 0.25
            referral = rng.random() < 0.3
            views = rng.choice([0, 2, 5, 12, 25, 40])
            free = rng.random() < 0.2
            logit = -2.2 + 2.0 * executive + 1.2 * referral + 0.8 * (views >= 20) - 1.5 * free + rng.gauss(0, 0.3)
            won = rng.random() < 1 / (1 + math.exp(-logit))
            status = (
                "CONNECTED" if leak and ((won and rng.random() < 0.6) or (not won and rng.random() < 0.004)) else "OPEN"
            )
            writer.writerow({
                "hs_object_id": str(n + 1),
                "email": f"p{n}@{'gmail.com' if free else 'acme.example'}",
                "jobtitle": "CEO" if executive else rng.choice(["Analyst", "Marketing Specialist", "Engineer"]),
                "hs_analytics_source": "REFERRALS" if referral else rng.choice(SOURCES),
                "hs_analytics_num_page_views": str(views),
                "hs_lead_status": status,
                "converted": "1" if won else "0",
            })  # fmt: skip
    return path
