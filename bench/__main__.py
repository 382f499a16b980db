"""Run the benchmarks and write BENCHMARKS.md: `python -m bench [name ...]`."""

from __future__ import annotations

import importlib
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ALL = ["scoring", "pipeline", "hubspot", "salesforce", "aws", "calibrate", "fuzz_routes", "cdc", "console", "jobs", "soak",
       "slow_clients", "multiprocess", "rules_store_crash", "score_export", "startup", "journal", "named_scores",
       "company_scores"]  # fmt: skip
OUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\n"
    "Figures from real runs on this project's machine; each section names the command that produced it.\n"
)


def _machine() -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python}, {os.cpu_count()} cores, {platform.machine()}"


def _merge(sections: dict[str, str]) -> str:
    """Replace the named sections in BENCHMARKS.md, keeping the others from earlier runs."""
    existing = OUT.read_text(encoding="utf-8") if OUT.exists() else HEADER
    for name, body in sections.items():
        block = f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"
        pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
        match = pattern.search(existing)
        if match:
            existing = existing[: match.start()] + block + existing[match.end() :]
        else:
            existing = existing.rstrip() + "\n\n" + block + "\n"
    return existing


def main(argv: list[str]) -> int:
    names = argv or ALL
    sections: dict[str, str] = {}
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"bench {name}: not present, skipped", flush=True)
                continue
            raise
        started = time.perf_counter()
        print(f"bench {name}: running", flush=True)
        body = module.run()
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        sections[name] = (
            f"{body.strip()}\n\n_Command: `make bench` (or `.venv/bin/python -m bench {name}`); "
            f"{stamp}; {_machine()}; took {time.perf_counter() - started:.0f} s._"
        )
        print(body, flush=True)
    OUT.write_text(_merge(sections), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
