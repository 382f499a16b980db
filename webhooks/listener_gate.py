"""Shut a listening socket's door before its backlog is drained, so that no client is reset.

Closing a listening socket resets every connection the kernel completed into its backlog since
the server last looked: the client has sent its request and reads a reset, as if the server had
accepted it and died. Draining the backlog first only narrows that window (clients keep
connecting while it drains). On Linux a socket filter that accepts nothing drops the SYNs that
reach the listening socket from then on: a new client retransmits its SYN, meets the closed port
a second later ("connection refused", which every webhook sender retries) or the restarted
server, and what is already in the backlog is taken in and answered.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys

SO_ATTACH_FILTER = 26  # <asm-generic/socket.h>; not in Python's socket module
_RETURN_ZERO = struct.pack("HBBI", 0x06, 0, 0, 0)  # classic BPF `ret #0`: keep no byte of any packet


def shut_door(listening: socket.socket) -> bool:
    """Drop every new connection attempt to `listening`; False where the platform cannot (then nothing changed)."""
    if not sys.platform.startswith("linux"):
        return False
    program = ctypes.create_string_buffer(_RETURN_ZERO, len(_RETURN_ZERO))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }, in the platform's alignment
    fprog = struct.pack("HP", 1, ctypes.addressof(program))
    try:
        listening.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        return False  # a seccomp profile or an exotic kernel: the old window, no worse
    return True
