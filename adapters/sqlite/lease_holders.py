"""Who holds a lease: a token naming the host and process, so a restart can take back a dead process's leases.

Without it, events leased by a process killed with SIGKILL (or the OOM killer) stay invisible
for the whole visibility timeout. SQLite is one machine's file, so a process on that machine
can tell whether a holder on the same host is still running; a holder on another host, in
another PID namespace (a container sharing the file), or a lease written by an older version
without a token is left to its timeout.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from pathlib import Path

_SEPARATOR = "/"


@functools.cache
def _where() -> str:
    """This host and PID namespace: pids mean the same thing only where both match."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()}@{namespace}".replace(_SEPARATOR, "_")


def new_lease_id() -> str:
    """A lease id that names its holder: where/pid/random."""
    return _SEPARATOR.join((_where(), str(os.getpid()), uuid.uuid4().hex))


def holder_is_gone(lease_id: str) -> bool:
    """True only when the lease's holder is a process of this host and PID namespace that no longer runs."""
    where, _, rest = lease_id.partition(_SEPARATOR)
    pid_text, _, _ = rest.partition(_SEPARATOR)
    if where != _where() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet still answers kill(0), but it will never ack."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may itself hold spaces.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
