"""The walkthrough's rotator (docs/writing-a-rotator.md) proved by rotor's kit on a real
RabbitMQ."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import pytest

APP = Path(__file__).parent / "rabbitmq_users" / "app.py"


@pytest.fixture
def rabbitmq_user(rotor_rabbitmq, rotor_secret):
    """Makes an application user on the private RabbitMQ; returns its secret's value."""
    admin_arn = rotor_secret(rotor_rabbitmq.admin_secret())

    def make():
        user, password = f"app-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(24)
        for path, body in (
            (f"/api/users/{user}", {"password": password, "tags": "monitoring"}),
            (f"/api/permissions/%2F/{user}", {"configure": "", "write": "app", "read": "app"}),
        ):
            rotor_rabbitmq.api("PUT", path, json=body).raise_for_status()
        return {
            "host": rotor_rabbitmq.host,
            "port": rotor_rabbitmq.port,
            "management_port": rotor_rabbitmq.management_port,
            "username": user,
            "password": password,
            "ssl": False,
            "adminarn": admin_arn,
        }

    return make


def test_rabbitmq_users_rotator(rotor_check, rotor_rabbitmq, rabbitmq_user):
    check = rotor_check(
        APP,
        new_secret=rabbitmq_user,
        works=lambda value: rotor_rabbitmq.logs_in(value["username"], value["password"]),
        window_allowed=True,  # one password per user: the old one ends at setSecret
    )
    check.all()
    report = check.mutation_report()  # broken copies of the rotator: the kit must fail each
    assert "apply does nothing" in report
    assert [mutant for mutant, complaint in report.items() if complaint is None] == []
