"""Believable, fictional people for the demo: CRM-neutral personas each CRM side renders."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FIRST = [
    "Ana", "Ben", "Chloé", "Dawid", "Elin", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Karin", "Lukas",
    "Maja", "Nils", "Olga", "Piotr", "Rosa", "Sven", "Tara", "Ulf", "Vera", "Wiktor", "Zofia",
]  # fmt: skip
LAST = ["Berg", "Nowak", "Schmidt", "Lind", "Kowalski", "Meyer", "Holm", "Wagner", "Dahl", "Zieliński", "Fischer"]
COMPANIES = ["Acme Analytics", "Nordlys Logistics", "Baltic Foods", "Helix Software", "Orbit Insurance",
             "Kraków Robotics", "Fjord Energy", "Vista Retail", "Quanta Bank", "Alpen Telecom"]  # fmt: skip
FREE_MAIL = ["gmail.com", "outlook.com", "wp.pl", "gmx.de", "hotmail.se"]


@dataclass
class Persona:
    """Who someone is and how they arrived; engagement is added as the demo runs."""

    first: str
    last: str
    title: str
    company: str
    employees: int
    industry: str
    country: str
    domain: str
    origin: str  # referral, organic_search, webinar, purchased_list, demo_request, cold_call, website
    page_views: int = 0
    visits: int = 0
    forms: int = 0
    opens: int = 0
    clicks: int = 0
    replies: int = 0
    bant: dict[str, bool] = field(default_factory=dict)
    opted_out: bool = False

    @property
    def email(self) -> str:
        return f"{self.first.lower()}.{self.last.lower()}@{self.domain}".encode("ascii", "ignore").decode()


_KINDS = [
    # (weight, title, origin, engagement scale)
    (3, "CEO", "referral", 1.0),
    (3, "Head of Marketing", "organic_search", 1.0),
    (3, "VP Sales", "webinar", 0.8),
    (4, "Marketing Manager", "website", 0.6),
    (5, "Sales Representative", "purchased_list", 0.0),
    (2, "Chief Technology Officer", "demo_request", 1.2),
    (2, "Student", "organic_search", 0.3),
    (3, "Operations Specialist", "cold_call", 0.1),
]


def personas(count: int, rng: random.Random) -> list[Persona]:
    people = []
    weights = [k[0] for k in _KINDS]
    for _ in range(count):
        _, title, origin, scale = rng.choices(_KINDS, weights)[0]
        company = rng.choice(COMPANIES)
        free = title == "Student" or rng.random() < 0.12
        domain = (
            "student.uu.se"
            if title == "Student"
            else rng.choice(FREE_MAIL)
            if free
            else (company.lower().split()[0].replace("ó", "o") + ".example")
        )
        person = Persona(
            first=rng.choice(FIRST),
            last=rng.choice(LAST),
            title=title,
            company=company,
            employees=rng.choice([4, 18, 40, 80, 300, 800, 3000]),
            industry=rng.choice(["Software", "Financial Services", "Retail", "Telecommunications", "Logistics"]),
            country=rng.choice(["Sweden", "Germany", "Poland", "United Kingdom", "Brazil"]),
            domain=domain,
            origin=origin,
            page_views=int(rng.randint(0, 30) * scale),
            visits=int(rng.randint(0, 6) * scale),
            forms=int(rng.randint(0, 2) * scale),
            opens=int(rng.randint(0, 10) * scale),
            clicks=int(rng.randint(0, 4) * scale),
            opted_out=rng.random() < 0.04,
        )
        people.append(person)
    return people


_LIKELY_BUYERS = {"CEO": 0.45, "Chief Technology Officer": 0.5, "VP Sales": 0.4, "Head of Marketing": 0.35}


def outcome(person: Persona, rng: random.Random) -> str | None:
    """How a seeded person's history ended: "won", "lost" (a deal that closed lost) or None (no deal).

    Senior, engaged people from warm sources win more often, so a calibration on a sandbox has
    something to learn, and a mix of outcomes to learn it from.
    """
    chance = _LIKELY_BUYERS.get(person.title, 0.1)
    chance += 0.1 if person.page_views > 15 or person.forms else 0.0
    chance -= 0.1 if person.origin in ("purchased_list", "cold_call") else 0.0
    roll = rng.random()
    if roll < chance:
        return "won"
    return "lost" if roll < chance + 0.1 else None
