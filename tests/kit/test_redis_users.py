"""The kit's test subject (redis_users/app.py) passes the kit on a real Redis; its
``redis_user`` fixture serves test_kit_catches.py's broken copies."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import pytest

APP = Path(__file__).parent / "redis_users" / "app.py"


@pytest.fixture
def redis_user(rotor_redis, rotor_secret):
    """Makes an application user on the private Redis; returns its secret's value."""
    admin_arn = rotor_secret(rotor_redis.admin_secret())

    def make():
        user, password = f"app-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
        with rotor_redis.connect() as admin:
            admin.execute_command(
                "ACL",
                "SETUSER",
                user,
                "on",
                f">{password}",
                "~app:*",
                "+@connection",
                "+@read",
                "+@write",
            )
        return {
            "host": rotor_redis.host,
            "port": rotor_redis.port,
            "username": user,
            "password": password,
            "ssl": False,
            "adminarn": admin_arn,
        }

    return make


def test_redis_users_rotator(rotor_check, rotor_redis, redis_user):
    rotor_check(
        APP,
        new_secret=redis_user,
        works=lambda value: rotor_redis.logs_in(value["username"], value["password"]),
    ).all()
