"""`python -m adapters.hubspot.journal.listen`: the journal intake and a worker, until SIGTERM or SIGINT.

What `leadtherm listen hubspot` does once the plugin boundary runs every plugin's intakes;
until then this is how a process (and the kill -9 test) runs the journal on its own.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from adapters.hubspot.journal.intake import journal_intakes
from integration.composition.runtime import build_runtime
from integration.service.worker import run_worker


def main() -> int:
    logging.basicConfig(level=os.environ.get("LEADTHERM_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    env = dict(os.environ)
    runtime = build_runtime(env, ["hubspot"])
    intakes = journal_intakes(runtime, {**env, "HUBSPOT_JOURNAL": "1"})
    stop = threading.Event()

    def finish(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    threads = [threading.Thread(target=run_worker, args=(runtime.pipeline, stop, 0.02), name="worker", daemon=True)]
    threads += [threading.Thread(target=i.run, args=(stop,), name=i.name, daemon=True) for i in intakes]
    for thread in threads:
        thread.start()
    print("listening", flush=True)
    while not stop.wait(0.2):
        pass
    for thread in threads:
        thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
