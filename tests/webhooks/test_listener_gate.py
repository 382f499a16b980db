"""Shutting a listening socket's door: the backlog is still served, newcomers never get in."""

from __future__ import annotations

import socket
import sys

import pytest

from webhooks.listener_gate import shut_door

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="socket filters are Linux's")


def test_a_connection_in_the_backlog_is_still_taken_in_and_heard_after_the_door_shuts() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listening:
        waiting = socket.create_connection(listening.getsockname())
        waiting.sendall(b"POST /")
        assert shut_door(listening)
        accepted, _ = listening.accept()
        waiting.sendall(b" HTTP/1.1")  # what it sends after the door shut reaches the server too
        accepted.settimeout(2)
        received = b""
        while len(received) < len(b"POST / HTTP/1.1"):
            received += accepted.recv(64)
        assert received == b"POST / HTTP/1.1"
        accepted.close()
        waiting.close()


def test_a_newcomer_after_the_door_shuts_is_never_connected_and_is_refused_once_the_socket_closes() -> None:
    listening = socket.create_server(("127.0.0.1", 0), backlog=16)
    address = listening.getsockname()
    assert shut_door(listening)
    newcomer = socket.socket()
    newcomer.settimeout(0.3)
    with pytest.raises(TimeoutError):
        newcomer.connect(address)  # its SYN is dropped: never half in the backlog
    newcomer.close()
    listening.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2)
