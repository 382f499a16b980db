"""Generate the example CRM exports: `python -m examples.generate` (fixed seed, stdlib only).

The same 240 people in two believable exports, each with its CRM's own field names:
purchased-list cold leads, newsletter-only readers, webinar attendees, demo requests from
decision makers with BANT confirmed, referrals, customers, opted-out and bounced contacts,
free-mail and student addresses. Where a CRM cannot hold a signal, its row carries what that
CRM's users record instead: Salesforce has no web or e-mail counters, so its rep logs the
activity (LastActivityDate) and rates the lead (Rating); a customer's Lead was converted into
an Opportunity that was won (`ConvertedOpportunity.IsWon`). Dates are relative to REFERENCE,
so `leadtherm score ... --as-of 2026-11-01` is reproducible. Running it twice gives identical
bytes.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REFERENCE = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 240
HERE = Path(__file__).resolve().parent
FIRST = ["Ana", "Ben", "Chloe", "Dawid", "Elin", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Karin", "Lukas", "Maja",
         "Nils", "Olga", "Piotr", "Rosa", "Sven", "Tara", "Ulf", "Vera", "Wiktor", "Yara", "Zofia"]  # fmt: skip
LAST = ["Berg", "Nowak", "Schmidt", "Lind", "Kowalski", "Meyer", "Holm", "Wagner", "Dahl", "Fischer", "Ek", "Wolf"]
COMPANIES = ["Acme Analytics", "Nordlys Logistics", "Baltic Foods", "Helix Software", "Orbit Insurance",
             "Krakow Robotics", "Fjord Energy", "Vista Retail", "Quanta Bank", "Alpen Telecom"]  # fmt: skip


@dataclass
class Person:
    segment: str
    title: str
    employees: int
    industry: str
    country: str
    origin: str
    email_kind: str = "work"  # work, free, student
    page_views: int = 0
    visits: int = 0
    forms: int = 0
    opens: int = 0
    clicks: int = 0
    replies: int = 0
    last_active_days: int | None = None
    bant: dict[str, bool] = field(default_factory=dict)
    lifecycle: str = "lead"
    status: str = "open"
    rating: str = ""
    opted_out: bool = False
    bounced: bool = False
    customer: bool = False
    open_deal: bool = False


def _purchased(rng: random.Random) -> Person:
    return Person("purchased list", rng.choice(["Sales Representative", "Operations Specialist", "Analyst", ""]),
                  rng.choice([4, 18, 40, 300]), rng.choice(["Retail", "Logistics", "Construction"]),
                  rng.choice(["Brazil", "India", "Germany"]), "purchased_list")  # fmt: skip


def _newsletter(rng: random.Random) -> Person:
    return Person("newsletter only", rng.choice(["Marketing Specialist", "Analyst", "Consultant"]),
                  rng.choice([18, 40, 80]), rng.choice(["Software", "Retail"]), rng.choice(["Sweden", "Poland"]),
                  "organic_search", opens=rng.randint(2, 8), clicks=rng.randint(0, 2), visits=rng.randint(1, 3),
                  page_views=rng.randint(2, 8), last_active_days=rng.randint(1, 40))  # fmt: skip


def _webinar(rng: random.Random) -> Person:
    return Person("webinar attendee", rng.choice(["Head of Marketing", "Marketing Manager", "VP Sales"]),
                  rng.choice([80, 300, 800]), rng.choice(["Software", "Financial Services"]),
                  rng.choice(["Germany", "United Kingdom", "Sweden"]), "webinar", forms=rng.randint(1, 3),
                  page_views=rng.randint(10, 40), visits=rng.randint(3, 8), opens=rng.randint(4, 12),
                  clicks=rng.randint(1, 5), last_active_days=rng.randint(0, 20), rating="warm",
                  status="working", bant={"need": True} if rng.random() < 0.4 else {})  # fmt: skip


def _demo_request(rng: random.Random) -> Person:
    return Person("demo request, BANT confirmed", rng.choice(["CEO", "Chief Technology Officer", "Founder"]),
                  rng.choice([80, 300, 800, 3000]), "Software", rng.choice(["Sweden", "Germany", "Poland"]),
                  "demo_request", forms=rng.randint(2, 4), page_views=rng.randint(25, 60), visits=rng.randint(5, 12),
                  opens=rng.randint(6, 14), clicks=rng.randint(3, 6), replies=rng.randint(1, 2),
                  last_active_days=rng.randint(0, 5),
                  bant={"need": True, "budget": True, "authority": True, "timeline": True},
                  status="working", rating="hot")  # fmt: skip


def _referral(rng: random.Random) -> Person:
    person = Person("referral", rng.choice(["Director of Operations", "Head of Sales", "Manager"]),
                    rng.choice([40, 80, 300]), rng.choice(["Software", "Telecommunications"]),
                    rng.choice(["Sweden", "Netherlands"]), "referral", page_views=rng.randint(5, 20),
                    visits=rng.randint(2, 5), forms=rng.randint(0, 1), opens=rng.randint(1, 6),
                    last_active_days=rng.randint(0, 15), bant={"need": True} if rng.random() < 0.5 else {},
                    status="working")  # fmt: skip
    # The rep rates what they saw (Salesforce has no counters): warm once the referral came back or wrote in.
    person.rating = "warm" if person.visits >= 3 or person.forms else ""
    return person


def _customer(rng: random.Random) -> Person:
    person = _webinar(rng)
    person.segment, person.customer, person.lifecycle, person.status = "customer", True, "customer", "qualified"
    return person


def _went_silent(rng: random.Random) -> Person:
    person = _webinar(rng)
    person.segment, person.last_active_days = "warm, then silent", rng.randint(80, 150)
    return person


def _opted_out(rng: random.Random) -> Person:
    person = _newsletter(rng)
    person.segment, person.opted_out, person.bounced = "opted out or bounced", True, rng.random() < 0.4
    return person


def _free_or_student(rng: random.Random) -> Person:
    person = _newsletter(rng)
    student = rng.random() < 0.5
    person.segment = "student address" if student else "free-mail address"
    person.email_kind = "student" if student else "free"
    person.title = "Student" if student else person.title
    return person


SEGMENTS: list[tuple[int, Callable[[random.Random], Person]]] = [
    (24, _purchased), (16, _newsletter), (18, _webinar), (10, _demo_request), (10, _referral),
    (6, _customer), (8, _went_silent), (4, _opted_out), (6, _free_or_student),
]  # fmt: skip


def people(seed: int = 20261101) -> list[Person]:
    rng = random.Random(seed)
    weights = [w for w, _ in SEGMENTS]
    return [rng.choices(SEGMENTS, weights)[0][1](rng) for _ in range(ROWS)]


def _email(rng: random.Random, person: Person, first: str, last: str, company: str) -> str:
    local = f"{first}.{last}".lower()
    if person.email_kind == "free":
        return f"{local}@{rng.choice(['gmail.com', 'outlook.com', 'wp.pl', 'gmx.de'])}"
    if person.email_kind == "student":
        return f"{local}@{rng.choice(['student.uu.se', 'stud.uni-hamburg.de', 'mit.edu'])}"
    return f"{local}@{company.lower().split()[0]}.example"


@dataclass(frozen=True)
class Identity:
    first: str
    last: str
    company: str
    email: str


def identities(seed: int = 20261101) -> list[Identity]:
    """Who each person is: the same names, company and e-mail address in both CRMs' exports."""
    rng = random.Random(seed + 1)
    found = []
    for person in people(seed):
        first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
        found.append(Identity(first, last, company, _email(rng, person, first, last, company)))
    return found


def _when(person: Person) -> datetime | None:
    return None if person.last_active_days is None else REFERENCE - timedelta(days=person.last_active_days, hours=3)


_HS_SOURCE = {"purchased_list": "OFFLINE", "organic_search": "ORGANIC_SEARCH", "webinar": "OTHER_CAMPAIGNS",
              "demo_request": "PAID_SEARCH", "referral": "REFERRALS"}  # fmt: skip
_HS_RANGES = [(5, "1-5"), (25, "5-25"), (50, "25-50"), (100, "50-100"), (500, "100-500"), (1000, "500-1000")]
_HS_LIFECYCLE = {"lead": "lead", "customer": "customer"}
_HS_STATUS = {"open": "OPEN", "working": "IN_PROGRESS", "qualified": "CONNECTED"}
_SF_SOURCE = {"purchased_list": "Purchased List", "organic_search": "Web", "webinar": "Webinar",
              "demo_request": "Demo Request", "referral": "Employee Referral"}  # fmt: skip
_SF_STATUS = {"open": "Open - Not Contacted", "working": "Working - Contacted", "qualified": "Closed - Converted"}


def _flag(value: bool | None) -> str:
    return "" if value is None else "true" if value else "false"


def hubspot_rows(seed: int = 20261101) -> list[dict[str, str]]:
    rng = random.Random(seed + 2)
    rows = []
    for n, (person, who) in enumerate(zip(people(seed), identities(seed), strict=True)):
        when = _when(person)
        stamp = (
            str(int(when.timestamp() * 1000))
            if when and n % 2
            else (when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else "")
        )
        rows.append({
            "hs_object_id": str(51 + n), "email": who.email, "firstname": who.first, "lastname": who.last,
            "jobtitle": person.title,
            "numemployees": next((label for limit, label in _HS_RANGES if person.employees <= limit), "1000+"),
            "industry": person.industry, "country": person.country, "hs_analytics_source": _HS_SOURCE[person.origin],
            "hs_analytics_num_page_views": str(person.page_views), "hs_analytics_num_visits": str(person.visits),
            "num_conversion_events": str(person.forms), "hs_email_open": str(person.opens),
            "hs_email_click": str(person.clicks), "hs_email_replied": str(person.replies),
            "hs_email_optout": _flag(person.opted_out), "hs_email_bounce": "1" if person.bounced else "0",
            "lifecyclestage": _HS_LIFECYCLE[person.lifecycle], "hs_lead_status": _HS_STATUS[person.status],
            "leadtherm_need": _flag(person.bant.get("need")), "leadtherm_budget": _flag(person.bant.get("budget")),
            "leadtherm_authority": _flag(person.bant.get("authority")),
            "leadtherm_timeline": _flag(person.bant.get("timeline")),
            "hs_analytics_last_visit_timestamp": stamp,
            "num_associated_deals": "1" if person.open_deal or person.customer else "0",
            "total_revenue": str(rng.choice([12000, 48000])) if person.customer else "",
        })  # fmt: skip
    return rows


def salesforce_rows(seed: int = 20261101) -> list[dict[str, str]]:
    rows = []
    for n, (person, who) in enumerate(zip(people(seed), identities(seed), strict=True)):
        when = _when(person)
        rows.append({
            "Id": f"00Q5g00000{n:05d}AAA", "FirstName": who.first, "LastName": who.last,
            "Email": who.email, "Title": person.title, "Company": who.company,
            "NumberOfEmployees": str(person.employees), "AnnualRevenue": str(person.employees * 150_000),
            "Industry": person.industry, "Country": person.country, "LeadSource": _SF_SOURCE[person.origin],
            "Status": _SF_STATUS[person.status], "Rating": person.rating.capitalize(),
            "HasOptedOutOfEmail": _flag(person.opted_out),
            "EmailBouncedReason": "550 mailbox unavailable" if person.bounced else "",
            "IsConverted": _flag(person.customer),
            # A customer's Lead was converted into an Opportunity that was won (the Lead's relationship).
            "ConvertedOpportunity.IsWon": "true" if person.customer else "",
            "LastActivityDate": when.strftime("%Y-%m-%d") if when else "",
            "BANT_Need__c": _flag(person.bant.get("need", False)),
            "BANT_Budget__c": _flag(person.bant.get("budget", False)),
            "BANT_Authority__c": _flag(person.bant.get("authority", False)),
            "BANT_Timeline__c": _flag(person.bant.get("timeline", False)),
        })  # fmt: skip
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    write(HERE / "hubspot_contacts.csv", hubspot_rows())
    write(HERE / "salesforce_leads.csv", salesforce_rows())
    print(f"wrote {HERE / 'hubspot_contacts.csv'} and {HERE / 'salesforce_leads.csv'} ({ROWS} rows each)")


if __name__ == "__main__":
    main()
