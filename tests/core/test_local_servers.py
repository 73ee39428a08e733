"""The throwaway servers survive losing the race for a free port (real sockets, real servers)."""

from __future__ import annotations

import socket

import pytest
from rotor.local import servers
from rotor.local.servers import MariaDBServer, PostgresServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("server_class", [PostgresServer, MariaDBServer])
def test_a_port_taken_after_it_was_chosen_is_replaced(server_class, monkeypatch):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        ports = iter([taken])  # the first "free" port is the one another process holds
        real = servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda: next(ports, None) or real())
        with server_class() as server:
            assert server.port != taken
            assert server.logs_in(server.superuser, server.superuser_password)


def test_a_port_asked_for_is_not_changed():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        server = PostgresServer(port=taken)
        try:
            with pytest.raises(RuntimeError, match="could not bind"):
                server.start()
            assert server.port == taken
        finally:
            server.stop()
