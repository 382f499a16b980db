"""Company / account scores: 1,000 contact changes across 100 companies, with the README's two named scores in force.

In the HubSpot and the Salesforce sandbox, counting the HTTP requests each sandbox served for the burst
(not leadtherm's own count of its calls: one Salesforce contact read is two SOQL queries). The minimum is
what the records that changed cost in full batches of the CRM's sizes: the contacts read (as leadtherm
reads a contact: on Salesforce a Contact query and the query of the Leads converted into them) and
written, and their companies read and written. The same burst with company scores off shows what the
contacts alone cost today. Contacts assessed per second, all scores together, are set against today's
single score (no named score, no company score) over the same burst.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from harness.packaged_copy import copy_packaged
from integration.composition.runtime import Runtime, build_runtime
from integration.ports import ChangeEvent, RecordRef
from integration.service.pipeline import BatchReport, PipelineSettings
from integration.service.retry import POLICY
from integration.service.worker import drain
from mappings.grammar import COMPANY_RULES_FILE

COMPANIES, PEOPLE_EACH = 100, 10
LEASES = (500, 1000)  # the default lease, and one that holds the whole burst
RATIO_TARGET, SPEED_TARGET = 1.1, 0.5
ROUNDS = 3  # bursts per measure
EXAMPLE = Path(__file__).resolve().parent.parent / "tests" / "examples" / "named_scores"
TITLES = ["Chief Executive Officer", "VP Sales", "Head of IT", "Marketing Manager", "Engineer"]
# Half the people in each named score's segment (HubSpot contacts carry industry and country; a Salesforce
# Contact reads its Account's Industry and its own MailingCountry).
SEGMENTS = [{"industry": "Software", "country": "Sweden"}, {"industry": "Retail", "country": "Germany"}]
HUBSPOT_TOKEN = "bench-token"


def _folder(base: Path, everything: bool) -> Path:
    """The packaged files; with `everything`, the README's two named scores too, else no company rules."""
    folder = copy_packaged(base)
    if everything:
        for source in EXAMPLE.glob("scoring.*.yaml"):
            shutil.copy(source, folder / source.name)
    else:
        (folder / COMPANY_RULES_FILE).unlink()
    return folder


@dataclass
class Crm:
    """One CRM's side of the burst: its sandbox, how to seed and change it, and its batch sizes."""

    name: str
    start: Callable[[], Any]
    env: Callable[[Any, Path], dict[str, str]]
    seed: Callable[[Any], list[str]]  # the contacts, 10 to each of 100 companies
    change: Callable[[Any, list[str], int], None]  # one change to each contact in a round, moving its score
    contact_type: str
    read_size: int
    write_size: int
    company_size: int
    queries_per_read: int  # requests one batch read of contacts takes


# ---------------------------------------------------------------------------- HubSpot


def _hubspot_start() -> HubSpotSandbox:
    sandbox = HubSpotSandbox(access_token=HUBSPOT_TOKEN, rate_limit=(1_000_000, 10.0))
    sandbox.start()
    return sandbox


def _hubspot_env(sandbox: HubSpotSandbox, folder: Path) -> dict[str, str]:
    return {"HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN, "HUBSPOT_API_BASE": sandbox.base_url,
            "HUBSPOT_RATE_LIMIT": "100000/10", "LEADTHERM_DB": str(folder / "leadtherm.db")}  # fmt: skip


def _hubspot_seed(sandbox: HubSpotSandbox) -> list[str]:
    companies = [
        sandbox.create_company({"name": f"Company {n}", "industry": "Software", "numberofemployees": "300"})
        for n in range(COMPANIES)
    ]
    contacts = []
    for n in range(COMPANIES * PEOPLE_EACH):
        contact = sandbox.create_contact({**SEGMENTS[n % 2], "numemployees": "100-500", "jobtitle": TITLES[n % 5],
                                          "hs_analytics_source": "REFERRALS", "hs_analytics_num_visits": "3",
                                          "hs_analytics_num_page_views": str(5 + n % 7)})  # fmt: skip
        sandbox.associate_company(contact, companies[n % COMPANIES])  # spread: every lease meets most companies
        contacts.append(contact)
    return contacts


def _hubspot_change(sandbox: HubSpotSandbox, contacts: list[str], round_: int) -> None:
    for n, contact in enumerate(contacts):  # many page views, then few again: each contact's score moves
        sandbox.update_contact(contact, {"hs_analytics_num_page_views": str((60 if round_ % 2 == 0 else 0) + n % 7)})


HUBSPOT = Crm("hubspot", _hubspot_start, _hubspot_env, _hubspot_seed, _hubspot_change, "contact", 100, 100, 100, 1)

# ---------------------------------------------------------------------------- Salesforce


def _salesforce_start() -> SalesforceSandbox:
    sandbox = SalesforceSandbox()
    sandbox.start()
    os.environ["REQUESTS_CA_BUNDLE"] = sandbox.ca_bundle_path  # simple-salesforce speaks HTTPS only
    return sandbox


def _salesforce_env(sandbox: SalesforceSandbox, folder: Path) -> dict[str, str]:
    return {"SALESFORCE_USERNAME": sandbox.username, "SALESFORCE_PASSWORD": sandbox.password,
            "SALESFORCE_SECURITY_TOKEN": sandbox.security_token, "SALESFORCE_DOMAIN": sandbox.login_domain,
            "SALESFORCE_ORG_ID": sandbox.org_id, "SALESFORCE_OUTBOUND_SECRET": "bench-outbound-secret-0123456789",
            "SALESFORCE_RATE_LIMIT": "100000/10", "LEADTHERM_DB": str(folder / "leadtherm.db")}  # fmt: skip


def _salesforce_seed(sandbox: SalesforceSandbox) -> list[str]:
    accounts = [
        sandbox.create_record(
            "Account", {"Name": f"Account {n}", "Industry": SEGMENTS[n % 2]["industry"], "NumberOfEmployees": 300}
        )
        for n in range(COMPANIES)
    ]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    contacts = []
    for n in range(COMPANIES * PEOPLE_EACH):
        person = {"LastName": f"Person {n}", "Email": f"p{n}@example.com", "Title": TITLES[n % 5],
                  "LeadSource": "Employee Referral", "LastActivityDate": today, "AccountId": accounts[n % COMPANIES],
                  "MailingCountry": SEGMENTS[n % 2]["country"]}  # fmt: skip
        contacts.append(sandbox.create_record("Contact", person))
    return contacts


def _salesforce_change(sandbox: SalesforceSandbox, contacts: list[str], round_: int) -> None:
    for contact in contacts:  # the Timeline question answered, then withdrawn: each contact's score moves
        sandbox.update_record("Contact", contact, {"BANT_Timeline__c": round_ % 2 == 0})


SALESFORCE = Crm(
    "salesforce", _salesforce_start, _salesforce_env, _salesforce_seed, _salesforce_change, "Contact", 200, 200, 200, 2
)

# ---------------------------------------------------------------------------- the burst


def _runtime(crm: Crm, sandbox: Any, base: Path, everything: bool, lease: int) -> Runtime:
    folder = _folder(base / "rules", everything)
    env = crm.env(sandbox, base)
    first = build_runtime(env, [crm.name], mappings=folder)
    first.plugins[crm.name].setup(first.mappings[crm.name], env)
    settings = PipelineSettings(lease_size=lease, retry=replace(POLICY, queue_delay=0.05))
    return build_runtime(env, [crm.name], mappings=folder, settings=settings)  # sees the fields setup made


def _enqueue(runtime: Runtime, crm: Crm, contacts: list[str], tag: str) -> None:
    now = datetime.now(UTC)
    refs = [RecordRef(crm.name, crm.contact_type, c) for c in contacts]
    runtime.queue.enqueue([ChangeEvent(f"bench:{tag}:{r.record_id}", r, occurred_at=now) for r in refs])


def measure(crm: Crm, lease: int) -> dict[str, dict[str, Any]]:
    """Today's single score and everything (named and company scores), each on its own 1,000 contacts and 100
    companies in one sandbox, seeded and settled; then ROUNDS bursts each, taking turns so that both meet the
    same load of the shared machine. Per setup: the most requests a burst took and the quickest drain."""
    sandbox = crm.start()
    runs: dict[str, tuple[list[str], Runtime, list[tuple[Counter[str], float, BatchReport]]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, everything in (("today", False), ("everything", True)):
                contacts = crm.seed(sandbox)
                (Path(tmp) / name).mkdir()
                runtime = _runtime(crm, sandbox, Path(tmp) / name, everything, lease)
                _enqueue(runtime, crm, contacts, "seed")
                drain(runtime.pipeline)  # every contact and company written once: the steady state
                runs[name] = (contacts, runtime, [])
            for round_ in range(ROUNDS):
                for contacts, runtime, rounds in runs.values():
                    crm.change(sandbox, contacts, round_)
                    before = Counter(sandbox.calls)
                    _enqueue(runtime, crm, contacts, f"change{round_}")
                    started = time.perf_counter()
                    report = drain(runtime.pipeline)
                    seconds = time.perf_counter() - started
                    rounds.append((Counter(sandbox.calls) - before, seconds, report))
    finally:
        sandbox.stop()
    return {name: _summary(crm, rounds) for name, (_, _, rounds) in runs.items()}


def _summary(crm: Crm, rounds: list[tuple[Counter[str], float, BatchReport]]) -> dict[str, Any]:
    requests = max((r for r, _, _ in rounds), key=lambda r: sum(r.values()))
    companies = [sum(1 for ref in rep.written_refs if ref.object_type != crm.contact_type) for _, _, rep in rounds]
    contacts = [rep.written - c for (_, _, rep), c in zip(rounds, companies, strict=True)]
    return {
        "requests": requests, "total": sum(requests.values()), "seconds": min(s for _, s, _ in rounds),
        "contacts_written": min(contacts), "companies_written": min(companies),
    }  # fmt: skip


def _route(key: str) -> str:
    """A request's route without its method and API prefix: `v3/objects/contacts/batch/read`, `query`."""
    path = key.split(" ")[-1].strip("/")
    return re.sub(r"^(crm/|services/data/v[\d.]+/)", "", path)


def _crm_section(crm: Crm) -> tuple[list[str], dict[int, float], float]:
    """The table rows of one CRM, its ratio to the minimum by lease, and its speed ratio at the default lease."""
    people = COMPANIES * PEOPLE_EACH
    rows, ratios, speed = [], {}, 0.0
    for lease in LEASES:
        both = measure(crm, lease)
        today, m = both["today"], both["everything"]
        reads = math.ceil(people / crm.read_size) * crm.queries_per_read
        contacts = reads + math.ceil(m["contacts_written"] / crm.write_size)
        companies = math.ceil(COMPANIES / crm.company_size) + math.ceil(m["companies_written"] / crm.company_size)
        minimum = contacts + companies
        ratios[lease] = m["total"] / minimum
        per_second, today_per_second = people / m["seconds"], people / today["seconds"]
        if lease == LEASES[0]:
            speed = per_second / today_per_second
        detail = ", ".join(f"{_route(k)} {v}" for k, v in sorted(m["requests"].items()) if v)
        rows.append(
            f"| {crm.name} | {lease} | {m['contacts_written']} | {m['companies_written']} | {m['total']} ({detail}) "
            f"| {minimum} ({contacts} + {companies}) | **{ratios[lease]:.2f}x** | {today['total']} of {contacts} "
            f"| {per_second:,.0f} | {today_per_second:,.0f} | {per_second / today_per_second:.2f} |"
        )
    return rows, ratios, speed


def run() -> str:
    rows, verdicts = [], []
    load_before = os.getloadavg()[0]
    for crm in (HUBSPOT, SALESFORCE):
        crm_rows, ratios, speed = _crm_section(crm)
        rows += crm_rows
        calls = "; ".join(
            f"lease {lease}: **{r:.2f}x** ({'meets' if r <= RATIO_TARGET else 'misses'})" for lease, r in ratios.items()
        )
        pace = "meets" if speed >= SPEED_TARGET else "misses"
        verdicts.append(
            f"- {crm.name}: requests against the minimum (target {RATIO_TARGET}x) {calls}; contacts per second at "
            f"the default lease **{speed:.2f}x** today's single score (target {SPEED_TARGET}x: {pace})."
        )
    return "\n".join([
        "## Company / account scores: 1,000 contact changes across 100 companies, two named scores (both sandboxes)",
        "",
        "Each of 1,000 contacts (10 per company, titles over five seniorities) changes once, so each contact's",
        "assessment and each company's roll-up moves; the README's two named scores (`scoring.analytics.yaml`,",
        "`scoring.stores.yaml`) are in force. Requests are counted by the sandbox (every HTTP request of the",
        "burst). The minimum is the contacts read and written plus the companies read and written, in full",
        "batches of the CRM's sizes (HubSpot 100; Salesforce 200, where reading Contacts takes a Contact query",
        "and the query of the Leads converted into them). *Contacts alone today*: the requests of the same",
        "burst with no named and no company score, against the contacts' part of the minimum. Contacts per",
        "second: the burst's 1,000 contacts over its drain, against today's single score over the same burst.",
        "",
        "| CRM | lease | contacts written | companies written | requests | minimum (contacts + companies) "
        "| ratio | contacts alone today | contacts/s | today | speed |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        *verdicts,
        "",
        f"Load average (1 min) on {os.cpu_count()} cores: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after:"
        " the machine is shared, so the speed ratios carry its noise (both setups take turns to share it).",
        "",
        "The one request above the minimum on HubSpot is the v4 associations batch read (a company's people:",
        "the batch read of companies cannot return associations). A Salesforce Account's Contacts come with",
        "the Account in one SOQL query (`(SELECT Id FROM Contacts)`), so Accounts cost nothing above it. With",
        "the default lease of 500 a full pass queues each company once for a later pass, which finds every",
        "person among the records the earlier passes read, and their default score as those passes assessed",
        "it. A lease holds whole batches of the CRM: on Salesforce the 500 are leased 400 at a time (two",
        "batches of 200), else each pass would read and write 200, 200 and 100. A Salesforce Contact has no",
        "Industry or Country field: it reads its Account's Industry (`Account.Industry`, in the Contact query)",
        "and its MailingCountry, so on both CRMs each named score holds for half the contacts (Software in",
        "Sweden, Retail in Germany). Both setups share one sandbox, each",
        "with its own 1,000 contacts and 100 companies, and take turns for 3 bursts each: the most requests",
        "of a burst, the quickest drain.",
    ])  # fmt: skip


if __name__ == "__main__":
    print(run())
