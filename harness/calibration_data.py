"""A synthetic history with a known generating rule, a planted leaky column, and a mapping for its columns.

logit = -1.6 + 2.0 executive + 1.2 demo requested + 0.8 webinar attendee - 1.5 free-mail + noise
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from integration.calibration.history import History
from integration.domain.model import Lead
from mappings.catalogue import ATTRIBUTES, Attribute, Kind, custom_attribute

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


# ---------------------------------------------------------------------------- shapes and an interaction
# An outcome that follows a hump in time on site (too little and too much both convert less), a plan picklist,
# a decaying visit count, a trial flag, time on site missing for some leads, and one interaction:
# large companies in EMEA convert far more than either alone says. Attributes past the first six are noise.

SHAPED_AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
PLANS = {"free": -0.9, "starter": 0.0, "team": 0.5, "business": 1.0, "enterprise": 1.4, "legacy": -0.4}
REGIONS = ("emea", "amer", "apac", "latam")


def _hump(minutes: float) -> float:
    return 2.4 * math.exp(-((math.log1p(minutes) - 2.6) ** 2) / 0.6) - 0.8


def shaped_attributes(extra: int = 0) -> tuple[Attribute, ...]:
    """The shaped history's attributes (the admin's own), `extra` noise columns on top of the six that matter."""
    found = [
        custom_attribute("time_on_site", "number", "Time on the website (minutes)"),
        custom_attribute("site_visits", "integer", "Site visits", decays=True),
        custom_attribute("plan", "text", "Plan"),
        custom_attribute("region", "text", "Region"),
        custom_attribute("employees", "integer", "Employees"),
        custom_attribute("trial", "boolean", "Started a trial"),
    ]
    for n in range(extra):
        kind: Kind = "number" if n % 2 else "text"
        found.append(custom_attribute(f"noise_{n}", kind, f"Noise {n}"))
    return tuple(found)


def shaped_rows(rows: int, seed: int, extra: int = 0, signal: float = 1.0) -> list[dict[str, Any]]:
    """`rows` leads' values and outcome (key `won`); `signal` scales every effect (0: pure noise)."""
    rng = random.Random(seed)
    found = []
    plans = list(PLANS)
    for _ in range(rows):
        minutes = None if rng.random() < 0.12 else round(rng.lognormvariate(2.3, 1.1), 1)
        visits = min(80, int(rng.expovariate(1 / 4))) if rng.random() < 0.7 else 0
        plan = rng.choices(plans, weights=[5, 4, 3, 2, 1, 1])[0]
        region = rng.choice(REGIONS)
        size = int(rng.lognormvariate(4, 1.5)) + 1
        trial = rng.random() < 0.3
        effect = (
            (-0.7 if minutes is None else _hump(minutes))
            + 0.35 * math.log1p(visits)
            + PLANS[plan]
            + 0.8 * trial
            + (1.6 if region == "emea" and size >= 200 else 0.0)
        )
        logit = -2.2 + signal * effect
        row: dict[str, Any] = {
            "time_on_site": minutes,
            "site_visits": visits,
            "plan": plan,
            "region": region,
            "employees": size,
            "trial": trial,
            "won": int(rng.random() < 1 / (1 + math.exp(-logit))),
        }
        for n in range(extra):
            row[f"noise_{n}"] = round(rng.gauss(0, 1), 2) if n % 2 else rng.choice("abcdefg")
        found.append(row)
    return found


def shaped_history(rows: int = 12_000, seed: int = 3, extra: int = 0, signal: float = 1.0) -> History:
    """The shaped history as calibrate reads it: leads with the admin's own attributes, engaged just before."""
    values = shaped_rows(rows, seed, extra, signal)
    leads = [
        Lead.of(
            "sheet",
            f"S{n}",
            "lead",
            last_engagement_at=SHAPED_AS_OF - timedelta(days=3),
            **{k: v for k, v in row.items() if k != "won"},
        )
        for n, row in enumerate(values)
    ]
    outcomes = [row["won"] for row in values]
    return History("shaped.csv", leads, outcomes, [SHAPED_AS_OF] * rows, shaped_attributes(extra))


def reference_aucs(history: History, train: list[int], test: list[int]) -> tuple[float, float]:
    """Holdout AUC of scikit-learn's HistGradientBoosting and LogisticRegression on the history's raw columns."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    numbers: list[str] = []
    texts: list[str] = []
    for attribute in history.attributes:
        if attribute.kind in ("text", "integer", "number", "boolean") and attribute.calibrate != "none":
            (texts if attribute.kind == "text" else numbers).append(attribute.name)
    raw = np.array(
        [[np.nan if (v := lead.get(n)) is None else float(v) for n in numbers] for lead in history.leads],
        dtype=float,
    )
    codes = {n: sorted({str(lead.get(n)) for lead in history.leads}) for n in texts}
    ordinal = np.array([[codes[n].index(str(lead.get(n))) for n in texts] for lead in history.leads], dtype=float)
    truth = np.array(history.outcomes)
    boosted = HistGradientBoostingClassifier(
        categorical_features=list(range(len(numbers), len(numbers) + len(texts))), random_state=0
    ).fit(np.hstack([raw, ordinal])[train], truth[train])
    both = np.hstack([raw, ordinal])[test]
    hgb = float(roc_auc_score(truth[test], boosted.predict_proba(both)[:, 1]))
    filled = np.nan_to_num(raw)
    onehot = np.hstack([filled, np.isnan(raw).astype(float)] + [
        (ordinal[:, [k]] == np.arange(len(codes[n]))).astype(float) for k, n in enumerate(texts)
    ])  # fmt: skip
    scaled = (onehot - onehot[train].mean(0)) / (onehot[train].std(0) + 1e-9)
    linear = LogisticRegression(max_iter=5000).fit(scaled[train], truth[train])
    lr = float(roc_auc_score(truth[test], linear.decision_function(scaled[test])))
    return hgb, lr


# ---------------------------------------------------------------------------- rare values, dates, one fact twice
RARE_AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
ORIGINS = {"web": 0.6, "event": 0.2, "partner": 0.9, "referral": 1.2, "other": -2.5, "fax": -2.5, "print": -2.2}
PAGES = {"/pricing": 1.0, "/blog": -0.4, "/docs": 0.3, "/home": 0.0, "/jobs": -2.8, "/press": -2.4}


def rare_rows(rows: int, seed: int) -> list[dict[str, Any]]:
    """A 10%-base-rate history: informative origin and landing page, each with rare values converting at 1-2%."""
    rng = random.Random(seed)
    found = []
    for _ in range(rows):
        origin = rng.choices(list(ORIGINS), weights=[40, 20, 15, 10, 4, 3, 3])[0]
        page = rng.choices(list(PAGES), weights=[20, 30, 20, 22, 4, 4])[0]
        weeks = rng.randrange(0, 104)
        signed_up = RARE_AS_OF - timedelta(days=7 * weeks + rng.randrange(0, 7))
        # Leads who signed up in the last three months convert most; a year on, hardly at all.
        age_effect = 0.9 if weeks < 13 else 0.0 if weeks < 52 else -0.8
        bounced = rng.random() < 0.08
        logit = -2.6 + ORIGINS[origin] + PAGES[page] + age_effect - 1.5 * bounced
        found.append({
            "origin": origin,
            "landing_page": page,
            "signed_up": signed_up,
            "bounced": bounced,
            # The same fact recorded twice, as CRMs do: a flag and a value of the last activity.
            "last_activity": "Email Bounced" if bounced else rng.choice(["Page Visited", "Form Filled", "Opened"]),
            "won": int(rng.random() < 1 / (1 + math.exp(-logit))),
        })  # fmt: skip
    return found


def rare_history(rows: int = 10_000, seed: int = 8) -> History:
    values = rare_rows(rows, seed)
    attributes = (
        custom_attribute("origin_channel", "text", "Origin"),
        custom_attribute("landing_page", "text", "Landing page"),
        custom_attribute("signed_up", "datetime", "Signed up"),
        custom_attribute("last_activity", "text", "Last activity"),
        ATTRIBUTES["bounced"],
    )
    leads = [
        Lead.of(
            "sheet",
            f"R{n}",
            "lead",
            origin_channel=row["origin"],
            landing_page=row["landing_page"],
            signed_up=row["signed_up"],
            last_activity=row["last_activity"],
            bounced=row["bounced"],
        )
        for n, row in enumerate(values)
    ]
    return History("rare.csv", leads, [row["won"] for row in values], [RARE_AS_OF] * rows, attributes)


def shaped_mapping_yaml(extra: int = 0) -> str:
    """A mapping of the shaped history's export: every column an attribute of the admin's own."""
    lines = ["crm: sheet", "objects: [lead]", "id_field: lead_id", "attributes:",
             "  last_engagement_at: {field: last_activity}", "custom_attributes:"]  # fmt: skip
    for attribute in shaped_attributes(extra):
        decays = ", decays: true" if attribute.decays else ""
        kind, label = attribute.kind, attribute.label
        lines.append(f"  {attribute.name}: {{field: {attribute.name}, kind: {kind}{decays}, label: '{label}'}}")
    lines += ["outputs: {score: null, fit: null, engagement: null, temperature: null, stage: null, reasons: null,",
              "          next_action: null, previous_temperature: null, temperature_changed_at: null}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_shaped(folder: Path, rows: int, seed: int, extra: int = 0) -> tuple[Path, Path]:
    """The shaped history as a CSV export and its mapping file."""
    values = shaped_rows(rows, seed, extra)
    history = folder / "shaped.csv"
    active = (SHAPED_AS_OF - timedelta(days=3)).isoformat()
    with history.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["lead_id", "last_activity", *values[0]])
        writer.writeheader()
        for n, row in enumerate(values):
            shown = {k: "" if v is None else str(v).lower() if isinstance(v, bool) else v for k, v in row.items()}
            writer.writerow({"lead_id": f"S{n}", "last_activity": active, **shown})
    mapping = folder / "shaped.yaml"
    mapping.write_text(shaped_mapping_yaml(extra), encoding="utf-8")
    return history, mapping
