"""Synthetic histories for judging leakage, the forward split and the noise verdict, with their mappings.

- `after_contact_rows`: the custom-field history of calibration_data plus `rep_assessment`, a picklist the
  rep fills after the call ("High" converts ~95%, "Worst" ~3%): a leak an admin would otherwise ship.
- `rare_values_rows`: a 10%-base-rate B2B history whose informative columns (origin, landing page, month)
  each hold a rare value converting under 2% over 50+ leads: evidence, not leakage.
- `noise_rows`: columns drawn independently of the outcome.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.calibration_data import custom_mapping_yaml, custom_rows

ASSESSMENT_WON = {"High": 0.8, "Medium": 0.15, "Low": 0.05, "Worst": 0.0}
ASSESSMENT_LOST = {"High": 0.015, "Medium": 0.3, "Low": 0.4, "Worst": 0.285}
# A subtler rating: "High" is rare (a sixth of the converters) but near-certain, "Worst" almost never converts.
SUBTLE_WON = {"High": 0.16, "Medium": 0.54, "Low": 0.3, "Worst": 0.0}
SUBTLE_LOST = {"High": 0.002, "Medium": 0.35, "Low": 0.35, "Worst": 0.298}
FIRST_CREATED = datetime(2024, 1, 1, tzinfo=UTC)


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def after_contact_mapping_yaml(declared: bool = False) -> str:
    """The custom mapping plus the rep's assessment; `declared` marks it known only after contact."""
    known = ", known: after_contact" if declared else ""
    line = f"  rep_assessment: {{field: rep_assessment, kind: text, label: Rep assessment{known}}}\n"
    return custom_mapping_yaml().replace("custom_attributes:\n", "custom_attributes:\n" + line)


def after_contact_rows(rows: int = 3000, seed: int = 11, subtle: bool = False) -> list[dict[str, str]]:
    """The custom-field history with the rep's after-call assessment and a creation date per lead."""
    rng = random.Random(seed + 1)
    won, lost = (SUBTLE_WON, SUBTLE_LOST) if subtle else (ASSESSMENT_WON, ASSESSMENT_LOST)
    found = []
    for n, row in enumerate(custom_rows(rows, seed)):
        shares = won if row["won"] == "1" else lost
        assessment = rng.choices(list(shares), weights=list(shares.values()))[0]
        created = FIRST_CREATED + timedelta(hours=3 * n + rng.randrange(3))
        found.append({**row, "rep_assessment": assessment, "created": created.isoformat()})
    return found


def write_after_contact(
    folder: Path, rows: int = 3000, declared: bool = False, subtle: bool = False
) -> tuple[Path, Path]:
    history = _write(folder / ("subtle.csv" if subtle else "assessed.csv"), after_contact_rows(rows, subtle=subtle))
    mapping = folder / ("assessed-declared.yaml" if declared else "assessed.yaml")
    mapping.write_text(after_contact_mapping_yaml(declared), encoding="utf-8")
    return history, mapping


# ---------------------------------------------------------------------------- rare low-converting values

RARE_MAPPING_YAML = """\
crm: sheet
objects: [lead]
id_field: lead_id
attributes:
  has_contact_data: {field: email, transform: present}
custom_attributes:
  channel: {field: channel, kind: text, label: Channel}
  landing_page: {field: landing_page, kind: text, label: Landing page}
  month: {field: month, kind: text, label: First contact month}
  weekday: {field: weekday, kind: text, label: First contact on}
outputs: {score: null, fit: null, engagement: null, temperature: null, stage: null, reasons: null,
          next_action: null, previous_temperature: null, temperature_changed_at: null}
"""
# log-odds per value; the last of each list is the rare one that converts under 2%.
ORIGINS = {"webinar": 1.1, "referral": 1.4, "paid search": 0.0, "organic": 0.4, "trade show": 0.7, "other": -2.6}
PAGES = {f"/page-{n}": (n % 5 - 2) * 0.45 for n in range(9)} | {"/careers": -2.8}
MONTHS = {m: 0.35 * math.sin(i) for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug"])} | {
    "dec": -2.9
}
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
RARE_WEIGHT = 0.035  # the rare value's share of leads: 50+ of them in any 8,000-lead history
RARE_INTERCEPT = -3.0


def _pick(rng: random.Random, values: dict[str, float]) -> str:
    names = list(values)
    common = (1 - RARE_WEIGHT) / (len(names) - 1)
    return rng.choices(names, weights=[common] * (len(names) - 1) + [RARE_WEIGHT])[0]


def rare_values_rows(rows: int = 8000, seed: int = 21) -> list[dict[str, str]]:
    rng = random.Random(seed)
    found = []
    for n in range(rows):
        origin, page, month = _pick(rng, ORIGINS), _pick(rng, PAGES), _pick(rng, MONTHS)
        logit = RARE_INTERCEPT + ORIGINS[origin] + PAGES[page] + MONTHS[month]
        won = rng.random() < 1 / (1 + math.exp(-logit))
        found.append({
            "lead_id": f"M{n + 1}", "email": f"p{n}@acme.example", "channel": origin, "landing_page": page,
            "month": month, "weekday": rng.choice(WEEKDAYS), "won": "1" if won else "0",
        })  # fmt: skip
    return found


def write_rare_values(folder: Path, rows: int = 8000) -> tuple[Path, Path]:
    mapping = folder / "b2b.yaml"
    mapping.write_text(RARE_MAPPING_YAML, encoding="utf-8")
    return _write(folder / "b2b.csv", rare_values_rows(rows)), mapping


def noise_rows(rows: int = 800, seed: int = 5) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [
        {
            "lead_id": f"N{n + 1}",
            "email": f"p{n}@acme.example",
            "channel": rng.choice(list(ORIGINS)[:5]),
            "landing_page": rng.choice(list(PAGES)[:9]),
            "month": rng.choice(list(MONTHS)[:8]),
            "weekday": rng.choice(WEEKDAYS),
            "won": "1" if rng.random() < 0.2 else "0",
        }
        for n in range(rows)
    ]


def write_noise(folder: Path, rows: int = 800) -> tuple[Path, Path]:
    mapping = folder / "noise.yaml"
    mapping.write_text(RARE_MAPPING_YAML, encoding="utf-8")
    return _write(folder / "noise.csv", noise_rows(rows)), mapping
