"""A synthetic history with a known generating rule, a planted leaky column, and a mapping for its columns.

logit = -1.6 + 2.0 executive + 1.2 demo requested + 0.8 webinar attendee - 1.5 free-mail + noise
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

WEIGHTS = {"executive": 2.0, "demo_requested": 1.2, "webinar": 0.8, "free_mail": -1.5}
INTERCEPT = -1.6
CLOSED = datetime(2026, 10, 1, tzinfo=UTC)

# A spreadsheet export, not a CRM: the mapping names its own columns.
MAPPING_YAML = """\
crm: sheet
objects: [lead]
id_field: lead_id
seniority:
  - pattern: '\\b(ceo|cfo|cto|chief|founder|owner|president)\\b'
    value: executive
  - pattern: '\\b(vp|director|head of)\\b'
    value: director
  - pattern: '\\b(manager|team lead)\\b'
    value: manager
  - pattern: '\\w'
    value: individual
attributes:
  has_contact_data: {field: email, transform: present}
  seniority: {field: job_title, transform: seniority}
  email_domain: {field: email, transform: email_domain}
  company_size: {field: employees}
  industry: {field: industry, transform: lower}
  origin: {field: source, transform: lower}
  page_views: {field: page_views}
  webinars: {field: webinars_attended}
  demo_requested: {field: demo_requested}
  newsletter: {field: newsletter}
  last_engagement_at: {field: last_activity}
  lead_status: {field: status, transform: lower}
outputs: {score: null, fit: null, engagement: null, temperature: null, stage: null, reasons: null,
          next_action: null, previous_temperature: null, temperature_changed_at: null}
"""

TITLES = ["Analyst", "Marketing Manager", "Engineer", "Director"]
COLUMNS = [
    "lead_id", "email", "job_title", "employees", "industry", "source", "page_views", "webinars_attended",
    "demo_requested", "newsletter", "last_activity", "status", "closed_at", "won",
]  # fmt: skip


def write_mapping(path: Path) -> Path:
    path.write_text(MAPPING_YAML, encoding="utf-8")
    return path


def write_history(path: Path, rows: int = 4000, seed: int = 1, leak: bool = True) -> Path:
    """`rows` leads drawn from the generating rule; with `leak`, a status set after the sale (`Customer`)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for n in range(rows):
            executive = rng.random() < 0.25
            demo = rng.random() < 0.3
            webinars = rng.choice([1, 2]) if rng.random() < 0.35 else 0
            free = rng.random() < 0.2
            evidence = {"executive": executive, "demo_requested": demo, "webinar": webinars > 0, "free_mail": free}
            logit = INTERCEPT + sum(WEIGHTS[name] * bool(hit) for name, hit in evidence.items()) + rng.gauss(0, 0.3)
            won = rng.random() < 1 / (1 + math.exp(-logit))
            closed = CLOSED - timedelta(days=rng.randrange(0, 300))
            # Engagement recorded shortly before the outcome, so decay as of the outcome date barely bites.
            active = closed - timedelta(days=rng.randrange(0, 6))
            status = "Customer" if leak and won and rng.random() < 0.5 else rng.choice(["Open", "Working", "Nurture"])
            writer.writerow({
                "lead_id": f"L{n + 1}",
                "email": f"p{n}@{'gmail.com' if free else rng.choice(['acme.example', 'initech.example'])}",
                "job_title": "CEO" if executive else rng.choice(TITLES),
                "employees": str(rng.choice([5, 20, 80, 300, 1200, 8000])),
                "industry": rng.choice(["Software", "Retail", "Banking", "Manufacturing"]),
                "source": rng.choice(["web", "event", "partner", "cold_email"]),
                "page_views": str(rng.choice([0, 1, 3, 8, 15, 30])),
                "webinars_attended": str(webinars),
                "demo_requested": "yes" if demo else "no",
                "newsletter": rng.choice(["true", "false"]),
                "last_activity": active.isoformat(),
                "status": status,
                "closed_at": closed.date().isoformat(),
                "won": rng.choice(["1", "yes", "true"]) if won else rng.choice(["0", "no", "false"]),
            })  # fmt: skip
    return path


# ---------------------------------------------------------------------------- the admin's own fields
# A history whose outcome depends mostly on two custom fields of the export:
# logit = -2.6 + 0.09 trial_logins + PRODUCT_WEIGHTS[product_interest] + 0.4 executive + 0.01 page views

PRODUCT_WEIGHTS = {"Analytics Suite": 1.8, "Data Platform": 0.9, "Integrations": 0.0, "Training": -1.2, "": -0.3}
CUSTOM_INTERCEPT = -2.6
CUSTOM_COLUMNS = ["lead_id", "email", "job_title", "page_views", "trial_logins", "product_interest", "won"]


def custom_mapping_yaml(decays: bool = False) -> str:
    """A mapping of the export's columns: two built-ins and two attributes of the admin's own."""
    return f"""\
crm: sheet
objects: [lead]
id_field: lead_id
seniority:
  - pattern: '\\b(ceo|cfo|cto|chief|founder|owner|president)\\b'
    value: executive
  - pattern: '\\w'
    value: individual
attributes:
  has_contact_data: {{field: email, transform: present}}
  seniority: {{field: job_title, transform: seniority}}
  page_views: {{field: page_views}}
custom_attributes:
  trial_logins: {{field: trial_logins, kind: integer, decays: {str(decays).lower()}, label: Trial logins}}
  product_interest: {{field: product_interest, kind: text, label: Product interest}}
outputs: {{score: null, fit: null, engagement: null, temperature: null, stage: null, reasons: null,
          next_action: null, previous_temperature: null, temperature_changed_at: null}}
"""


def write_custom_mapping(path: Path, decays: bool = False) -> Path:
    path.write_text(custom_mapping_yaml(decays), encoding="utf-8")
    return path


def custom_rows(rows: int = 3000, seed: int = 11) -> list[dict[str, str]]:
    """`rows` leads drawn from the generating rule above (the picklist's spelling as a CRM shows it)."""
    rng = random.Random(seed)
    products = list(PRODUCT_WEIGHTS)
    found = []
    for n in range(rows):
        logins = 0 if rng.random() < 0.35 else min(60, int(rng.expovariate(1 / 12)) + 1)
        product = rng.choices(products, weights=[2, 3, 3, 2, 2])[0]
        executive = rng.random() < 0.2
        views = rng.choice([0, 2, 5, 10, 20, 40])
        logit = CUSTOM_INTERCEPT + 0.09 * logins + PRODUCT_WEIGHTS[product] + 0.4 * executive + 0.01 * views
        won = rng.random() < 1 / (1 + math.exp(-logit))
        found.append({
            "lead_id": f"C{n + 1}",
            "email": f"p{n}@acme.example",
            "job_title": "CEO" if executive else rng.choice(TITLES),
            "page_views": str(views),
            "trial_logins": str(logins),
            "product_interest": product,
            "won": "1" if won else "0",
        })  # fmt: skip
    return found


def write_custom_history(path: Path, rows: int = 3000, seed: int = 11) -> Path:
    """The custom-field history as a CSV export."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CUSTOM_COLUMNS)
        writer.writeheader()
        writer.writerows(custom_rows(rows, seed))
    return path


def raw_columns_auc(rows: list[dict[str, str]], train: list[int], test: list[int]) -> float:
    """Holdout AUC of scikit-learn on the export's raw columns: numbers as they are, picklist and title one-hot."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    products = sorted({r["product_interest"] for r in rows})
    titles = sorted({r["job_title"] for r in rows})
    matrix = np.array([
        [float(r["trial_logins"]), float(r["page_views"])]
        + [float(r["product_interest"] == p) for p in products]
        + [float(r["job_title"] == t) for t in titles]
        for r in rows
    ])  # fmt: skip
    truth = np.array([int(r["won"]) for r in rows])
    model = LogisticRegression(max_iter=5000).fit(matrix[train], truth[train])
    return float(roc_auc_score(truth[test], model.decision_function(matrix[test])))
