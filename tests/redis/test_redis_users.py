"""Redis ACL users through rotators/redis against private redis-servers: the ACL admin sets
passwords as SHA-256 hashes, the current password must log in first, changes persist."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest
from rotor.local.servers import RedisServer

from tests.helpers import secret_value

ROTATOR = "redis"


def make_user(server, name=None, password=None):
    name = name or f"app_{secrets.token_hex(4)}"
    password = password or secrets.token_urlsafe(16)
    digest = hashlib.sha256(password.encode()).hexdigest()
    with server.connect() as admin:
        admin.execute_command(
            "ACL", "SETUSER", name, "on", f"#{digest}", "~app:*", "+@read", "+@write"
        )
    return name, password


def user_secret(server, user, password, admin_arn, **extra):
    value = {
        "engine": "redis",
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": password,
        "masterarn": admin_arn,
        **extra,
    }
    if server.certs is None:
        value["ssl"] = False
    return value


def stored_hashes(server, user):
    with server.connect() as admin:
        rules = admin.acl_getuser(user)
    return sorted(rules["passwords"])


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_admin(redis_server, new_secret):
    return new_secret(redis_server.admin_secret())


def test_the_new_password_replaces_the_old_without_a_window(
    redis_server, sm, harness, new_secret, redis_admin
):
    server = redis_server
    user, old = make_user(server)
    arn = new_secret(user_secret(server, user, old, redis_admin))
    h = harness(ROTATOR)
    token = h.start(arn)
    for step in ("createSecret", "setSecret", "testSecret"):
        assert h.invoke(arn, token, step).error is None
        assert server.logs_in(user, old), step  # AWSCURRENT works throughout
    assert h.invoke(arn, token, "finishSecret").error is None
    new = secret_value(sm, arn)["password"]
    assert server.logs_in(user, new) and not server.logs_in(user, old)
    assert stored_hashes(server, user) == [hashlib.sha256(new.encode()).hexdigest()]
    acl = Path(server.directory, "users.acl").read_text()  # persisted by ACL SAVE
    assert hashlib.sha256(new.encode()).hexdigest() in acl and new not in acl
    assert new not in server.log_text()


def test_keep_previous_keeps_one_generation(redis_server, sm, harness, new_secret, redis_admin):
    server = redis_server
    user, first = make_user(server)
    arn = new_secret(user_secret(server, user, first, redis_admin, keep_previous=True))
    h = harness(ROTATOR)
    assert h.rotate(arn).succeeded
    second = secret_value(sm, arn)["password"]
    assert server.logs_in(user, first) and server.logs_in(user, second)
    assert h.rotate(arn).succeeded
    third = secret_value(sm, arn)["password"]
    assert server.logs_in(user, second) and server.logs_in(user, third)
    assert not server.logs_in(user, first)
    assert len(stored_hashes(server, user)) == 2


def test_the_admin_acts_only_for_a_login_that_works(
    redis_server, sm, harness, new_secret, redis_admin
):
    server = redis_server
    victim, victim_password = make_user(server)
    before = stored_hashes(server, victim)
    arn = new_secret(user_secret(server, victim, "a-guess", redis_admin))
    report = harness(ROTATOR, attempts=1).rotate(arn)
    assert not report.succeeded
    assert "refusing to use the admin login" in (report.steps[-1].error or "")
    assert stored_hashes(server, victim) == before and server.logs_in(victim, victim_password)


@pytest.mark.parametrize("persistence", ["config", "none"])
def test_changes_persist_or_nothing_changes(sm, harness, new_secret, persistence):
    with RedisServer(persistence=persistence) as server:
        admin = new_secret(server.admin_secret())
        user, old = make_user(server)
        arn = new_secret(user_secret(server, user, old, admin))
        report = harness(ROTATOR, attempts=1).rotate(arn)
        if persistence == "config":  # CONFIG REWRITE: the user's hash in redis.conf
            assert report.succeeded, report.steps
            new = secret_value(sm, arn)["password"]
            config = Path(server.directory, "redis.conf").read_text()
            assert hashlib.sha256(new.encode()).hexdigest() in config and new not in config
        else:
            assert not report.succeeded
            assert "neither an ACL file" in (report.steps[-1].error or "")
            assert server.logs_in(user, old) and len(stored_hashes(server, user)) == 1


def test_tls_is_verified(sm, harness, new_secret, certs, monkeypatch):
    with RedisServer(certs=certs) as server:
        admin = new_secret(server.admin_secret())
        user, old = make_user(server)
        arn = new_secret(user_secret(server, user, old, admin))
        monkeypatch.delenv("ROTOR_CA_BUNDLE", raising=False)  # the system store: no test CA
        report = harness(ROTATOR, attempts=1).rotate(arn)
        assert not report.succeeded and "certificate" in (report.steps[-1].error or "")
        assert server.logs_in(user, old)
        monkeypatch.setenv("ROTOR_CA_BUNDLE", str(certs.ca))
        assert harness(ROTATOR).resume(arn, report.token).succeeded
        assert server.logs_in(user, secret_value(sm, arn)["password"])


@pytest.mark.parametrize("keep_previous", [False, True])
def test_the_kit_passes_both_modes(
    redis_server, rotor_check, new_secret, redis_admin, keep_previous
):
    from tests.conftest import handler

    server = redis_server

    def fresh():
        user, password = make_user(server)
        extra = {"keep_previous": True} if keep_previous else {}
        return new_secret(user_secret(server, user, password, redis_admin, **extra))

    check = rotor_check(
        handler(ROTATOR),
        new_secret=fresh,
        works=lambda v: server.logs_in(v["username"], v["password"]),
        keeps="new_and_previous" if keep_previous else "new",
    )
    check.all()
