"""Start-up times: `leadtherm --help`, `leadtherm check`, the Lambda HTTP handler's cold start; the Lambda zip.

Each command runs in a fresh subprocess, as a person or the Lambda runtime starts it; `python -c pass`
runs beside them, so a reader can tell the machine's own start-up (and its load) from leadtherm's.
The Lambda cold start is measured twice: in the development venv, and from the built artifact alone
(`make lambda-package`'s folder on PYTHONPATH, `-S`: no site-packages), which holds what AWS runs.

Each command runs once untimed first, with bytecode writing allowed (PYTHONDONTWRITEBYTECODE
cleared): an installed leadtherm and the Lambda zip carry their `.pyc` files, so compiling the
sources on every start (about 30 ms, what an editable checkout with that variable set pays)
is no part of a start-up.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEADTHERM = str(Path(sys.executable).parent / "leadtherm")
RUNS = 9  # the median of nine: the machine is shared
TARGET_SECONDS = 0.3
ZIP = ROOT / "build" / "leadtherm-lambda.zip"
ARTIFACT = ROOT / "build" / "lambda"
FORBIDDEN_IN_ZIP = ("leadtherm_sandboxes", "trustme")
# Imports the handler module and builds the HTTP handler's app (settings, routes with the mapped
# object types, queue), as the first request of a fresh Lambda container does.
COLD_START = "from webhooks import lambda_handlers; lambda_handlers._http_handler()"
# The same, leaving without the interpreter's shutdown (its last garbage collection over every object
# made): a Lambda container pays that only when it is recycled, not in its cold start. Shown, not targeted.
INIT_ONLY = COLD_START + "; import os; os._exit(0)"
# Both CRMs configured with every secret their routes verify with (no value reaches a CRM).
LAMBDA_ENV = {
    "HUBSPOT_ACCESS_TOKEN": "token",
    "HUBSPOT_CLIENT_SECRET": "client-secret",
    "SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com",
    "SALESFORCE_ACCESS_TOKEN": "session",
    "SALESFORCE_ORG_ID": "00D000000000001AAA",
    "SALESFORCE_OUTBOUND_SECRET": "outbound-secret-of-32-characters",
    "SALESFORCE_CALLOUT_SECRET": "callout-secret-of-32-characters",
}


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without leadtherm's or the CRMs' settings, plus `extra`."""
    cleared = ("LEADTHERM_", "HUBSPOT_", "SALESFORCE_", "SSM_", "PYTHONDONTWRITEBYTECODE")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(cleared)}
    return {**kept, **extra}


def timed(command: list[str], env: Mapping[str, str], cwd: Path) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of RUNS fresh runs, after one untimed
    run that writes the bytecode caches; each must succeed."""
    subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, timeout=120, check=False)
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, timeout=120, check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-800:]}")
    return statistics.median(walls), statistics.median(cpus)


def build_zip() -> str | None:
    """`make lambda-package`; None when it built, else why not (no network for the wheels, say)."""
    done = subprocess.run(["make", "lambda-package"], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not ZIP.exists():
        return (done.stderr or done.stdout).strip().splitlines()[-1] if (done.stderr or done.stdout) else "failed"
    return None


def zip_contents(path: Path) -> tuple[int, int, list[str]]:
    """Size in bytes, files, and the top-level names in it that must not ship."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    shipped = sorted(top for top in tops if top.split("-")[0].lower() in FORBIDDEN_IN_ZIP)  # package or dist-info
    return path.stat().st_size, len(names), shipped


def _row(label: str, wall: float, cpu: float, target: bool) -> str:
    verdict = (" (meets)" if wall < TARGET_SECONDS else " (misses)") if target else ""
    limit = f"under {TARGET_SECONDS} s{verdict}" if target else ""
    return f"| {label} | **{wall * 1000:.0f} ms** | {cpu * 1000:.0f} ms | {limit} |"


def run() -> str:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        plain = _clean_env({})
        lambda_env = _clean_env({**LAMBDA_ENV, "LEADTHERM_DB": str(work / "queue.db")})
        rows = [
            ("`python -c pass` (the interpreter alone)", [sys.executable, "-c", "pass"], plain, False),
            ("`leadtherm --help`", [LEADTHERM, "--help"], plain, True),
            ("`leadtherm check` (packaged mappings)", [LEADTHERM, "check"], plain, True),
            ("Lambda HTTP handler: import + build the app (dev venv)", [sys.executable, "-c", COLD_START], lambda_env,
             True),
            ("the same without the interpreter's shutdown (a container's init alone)",
             [sys.executable, "-c", INIT_ONLY], lambda_env, False),
        ]  # fmt: skip
        problem = build_zip()
        if problem is None:
            artifact_env = {**lambda_env, "PYTHONPATH": str(ARTIFACT)}
            rows.append(
                ("Lambda HTTP handler, from the zip's folder alone (`-S`)",
                 [sys.executable, "-S", "-c", COLD_START], artifact_env, True)
            )  # fmt: skip
        lines = [
            "## Start-up: the CLI and the Lambda HTTP handler (fresh subprocesses)",
            "",
            f"Median of {RUNS} runs each, after one untimed run that writes the bytecode caches (an installed",
            "leadtherm and the Lambda zip carry them); CPU is user + system time of the process (less",
            "sensitive to the machine's load, which other engineers' tests share, than the wall time,",
            "which the target is about).",
            "",
            "| command | wall | CPU | target |",
            "|---|---|---|---|",
        ]
        for label, command, env, target in rows:
            wall, cpu = timed(command, env, work)
            lines.append(_row(label, wall, cpu, target))
        lines.append("")
        if problem is None:
            size, files, shipped = zip_contents(ZIP)
            lines.append(
                f"`make lambda-package`: build/leadtherm-lambda.zip is **{size / 1_000_000:.1f} MB** ({files:,} files); "
                + (f"it holds **{', '.join(shipped)}**, which must not ship." if shipped else
                   "it holds no `leadtherm_sandboxes` and no `trustme`.")
            )  # fmt: skip
        else:
            lines.append(f"`make lambda-package` did not build here: {problem}")
        load = os.getloadavg()
        lines += ["", f"Load average while measuring: {load[0]:.1f} (1 min) on {os.cpu_count()} cores."]
        return "\n".join(lines)
