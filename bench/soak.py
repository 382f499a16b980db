"""Soak: `leadtherm serve` on the embedded backend through 5xx, 429, a revoked token, poison records and kill -9.

The same `soak()` runs small in tests/test_soak.py. What it checks at the end:
0 events lost (every touched contact holds what leadtherm should have written),
0 duplicate writes, every CRM write audited, every poison record dead-lettered with a
reason naming the field (never the value), no record value in the log, and a worker
alive (a change made after everything else is still read and assessed).
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.field_setup import setup
from adapters.sqlite import Database, SqliteStateStore, SqliteWorkQueue
from harness.servers import free_port
from integration.ports import RecordRef
from integration.service.pipeline import RECOVERED
from mappings.loader import load_mapping
from tests.adapters.hubspot.helpers import expected_outputs, repeated_writes, written_outputs
from tests.serve_process import LEASE_SECONDS, ServeProcess

TOKEN, SECRET = "soak-token", "soak-secret"
POISON_FIELD, POISON_VALUE = "hs_analytics_num_page_views", "1e400"
SECRET_MARK = "soak-private"  # in every e-mail address: must never reach the log


@dataclass
class SoakResult:
    events: int
    contacts: int
    poison: int
    kills: int
    seconds: float
    crm_writes: int
    lost: list[str] = field(default_factory=list)  # contacts not holding what they should
    duplicate_writes: int = 0
    unaudited: list[str] = field(default_factory=list)
    poison_without_reason: list[str] = field(default_factory=list)
    other_dead_letters: int = 0
    leaked_to_log: int = 0
    paused_logged: bool = False
    resumed_logged: bool = False
    worker_alive: bool = False
    rate_limited: int = 0  # 429s the sandbox answered
    recovered: int = 0  # writes found in the CRM after a kill -9 and audited by the next pass

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and self.duplicate_writes == 0
            and not self.unaudited
            and not self.poison_without_reason
            and self.other_dead_letters == 0
            and self.leaked_to_log == 0
            and self.worker_alive
        )


def soak(
    folder: Path,
    events: int = 5000,
    contacts: int = 1000,
    rate_5xx: float = 0.10,
    rate_429: float = 0.05,
    revoke_seconds: float = 30.0,
    poison_share: float = 0.01,
    kills: int = 2,
    events_per_second: float = 150.0,
    seed: int = 7,
) -> SoakResult:
    rng = random.Random(seed)
    started = time.monotonic()
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(100_000, 10.0))
    sandbox.start()
    mapping = load_mapping("hubspot")
    setup(HubSpotClient(mapping, TOKEN, sandbox.base_url).api, mapping)
    poison_count = max(1, round(contacts * poison_share))
    ids = []
    for n in range(contacts):
        properties = {"email": f"{SECRET_MARK}{n}@acme.example", "jobtitle": rng.choice(["CEO", "Manager", "Analyst"])}
        if n < poison_count:
            properties[POISON_FIELD] = POISON_VALUE
        ids.append(sandbox.create_contact(properties))
    poison = set(ids[:poison_count])
    port = free_port()
    env = {
        **os.environ,
        "HUBSPOT_ACCESS_TOKEN": TOKEN,
        "HUBSPOT_CLIENT_SECRET": SECRET,
        "HUBSPOT_API_BASE": sandbox.base_url,
        "HUBSPOT_RATE_LIMIT": "100000/10",
        "LEADTHERM_DB": str(folder / "leadtherm.db"),
    }
    server = ServeProcess(port, env, folder / "serve.log")
    server.start()
    try:
        # Creations were made before anyone listened: only the changes below are delivered.
        sandbox.configure_webhooks(f"http://127.0.0.1:{port}/webhooks/hubspot", SECRET, time_scale=0.002)
        sandbox.set_faults(rate_5xx=rate_5xx, rate_429=rate_429)
        kill_at = {round(events * (i + 1) / (kills + 1)) for i in range(kills)}
        revoke_at = events // 2 + 1
        touched: set[str] = set()
        for n in range(events):
            contact = rng.choice(ids)
            touched.add(contact)
            # Not the poison field: a poison record stays unreadable whatever else changes.
            sandbox.update_contact(contact, {"hs_email_open": str(n)})
            if n in kill_at:
                # Right after a CRM write lands: its pass may not have committed yet (the recovery case).
                landed = len(sandbox.writes)
                wait_until(lambda landed=landed: len(sandbox.writes) > landed, 5, step=0.001)
                server.kill()  # mid-burst: some events queued, some leased, some writes not yet committed
                server.start()
            if n == revoke_at:
                sandbox.expire_token(TOKEN)
                threading.Timer(revoke_seconds, lambda: sandbox.expired_tokens.discard(TOKEN)).start()
            time.sleep(1 / events_per_second)
        sandbox.flush_webhooks(LEASE_SECONDS + 120)
        wait_until(lambda: TOKEN not in sandbox.expired_tokens, revoke_seconds + 5)
        wait_until(lambda: server.depth() == 0, LEASE_SECONDS + 180, step=0.5)
        sandbox.set_faults()
        # A worker is alive at the end: a change made now is still read from the CRM and assessed.
        last = next(c for c in ids if c not in poison)
        reads = "POST /crm/v3/objects/contacts/batch/read"
        reads_before = sandbox.calls[reads]
        sandbox.update_contact(last, {"jobtitle": "Chief Executive Officer", "hs_email_open": "999"})
        touched.add(last)
        alive = wait_until(lambda: sandbox.calls[reads] > reads_before, 30) and server.alive()
        sandbox.flush_webhooks(30)
        wait_until(lambda: server.depth() == 0, 30, step=0.2)
        server.stop()
        result = _verify(sandbox, folder, touched, poison)
        result.events, result.contacts, result.poison, result.kills = events, contacts, len(poison & touched), kills
        result.worker_alive = alive
        result.seconds = time.monotonic() - started
        log = (folder / "serve.log").read_text(errors="replace")
        result.leaked_to_log = log.count(SECRET_MARK) + log.count(POISON_VALUE)
        result.paused_logged = "hubspot paused" in log
        result.resumed_logged = "hubspot resumed" in log
        return result
    finally:
        server.stop()
        sandbox.webhook_url = None
        sandbox.stop()


def _verify(sandbox: HubSpotSandbox, folder: Path, touched: set[str], poison: set[str]) -> SoakResult:
    db = Database(folder / "leadtherm.db")
    state, queue = SqliteStateStore(db), SqliteWorkQueue(db)
    result = SoakResult(0, 0, 0, 0, 0.0, crm_writes=len(sandbox.writes), rate_limited=sandbox.count_429)
    healthy = touched - poison
    result.lost = sorted(c for c in healthy if written_outputs(sandbox, c) != expected_outputs(sandbox, c))
    result.duplicate_writes = len(repeated_writes(sandbox))
    for contact in touched:
        received = sum(1 for c, _ in sandbox.writes if c == contact)
        writes = [e for e in state.audit(RecordRef("hubspot", "contact", contact), 100_000) if e.action == "write"]
        result.recovered += sum(1 for e in writes if e.reasons == [RECOVERED])
        if received != len(writes):
            result.unaudited.append(contact)
    letters = queue.dead_letters(100_000)
    reasons: dict[str, list[str]] = {}
    for letter in letters:
        reasons.setdefault(letter.event.ref.record_id, []).append(letter.reason)
    for contact in poison & touched:
        good = reasons.get(contact) and all(POISON_FIELD in r and POISON_VALUE not in r for r in reasons[contact])
        if not good:
            result.poison_without_reason.append(contact)
    result.other_dead_letters = sum(len(r) for c, r in reasons.items() if c not in poison)
    return result


def run() -> str:
    with tempfile.TemporaryDirectory() as folder:
        r = soak(Path(folder))
    verdict = "**pass**" if r.ok else "**FAIL**"
    return f"""## Soak (`leadtherm serve` on the embedded backend, HubSpot sandbox over HTTP)

{r.events:,} change events over {r.contacts:,} contacts, with 10% 5xx and 5% 429 injected on every API call,
the token revoked for 30 s halfway, 1% poison records (`{POISON_FIELD}` = `{POISON_VALUE}`) and {r.kills}
`kill -9` of `serve` mid-burst (each restart waits out a {LEASE_SECONDS} s lease for what the killed process held).

| measure | value | target |
|---|---|---|
| contacts not holding what they should (events lost) | **{len(r.lost)}** | 0 |
| duplicate writes (a value written twice in a row) | **{r.duplicate_writes}** | 0 |
| CRM writes | {r.crm_writes:,} | |
| 429s answered by the sandbox (retried) | {r.rate_limited:,} | |
| writes made just before a kill -9, audited by the next pass from what the CRM held | {r.recovered} | |
| contacts whose CRM writes and audit entries differ | **{len(r.unaudited)}** | 0 |
| touched poison records dead-lettered with a reason naming the field | {r.poison - len(r.poison_without_reason)} of {r.poison} | all |
| other dead letters | {r.other_dead_letters} | 0 |
| record values (e-mails, the poison value) in serve's log | {r.leaked_to_log} | 0 |
| pause logged / resume logged | {r.paused_logged} / {r.resumed_logged} | |
| a worker alive at the end (a last change still read and assessed) | {r.worker_alive} | yes |
| verdict | {verdict} | |
| wall time | {r.seconds:.0f} s | |
"""
