"""Attacks on the walkthrough's RabbitMQ rotator, which teams copy: the admin acts only for a
user whose password the rotated secret proves, on the broker the admin acts on."""

from __future__ import annotations

import secrets

from rotor.local.harness import load_handler
from rotor.local.rabbitmq import RabbitMQServer

from tests.kit.test_rabbitmq_users import APP, rabbitmq_user  # noqa: F401 - the fixture


def test_a_login_proven_on_another_broker_of_the_host_proves_nothing(
    rotor_rabbitmq,
    rabbitmq_user,  # noqa: F811
    rotor_secret,
    harness,
):
    """A host running two brokers (the company's, and one the attacker runs): the attacker
    makes the victim's user name on its own broker, then writes a secret whose AMQP port is
    its broker's and whose management port is the company's. The proof logs in on the
    attacker's broker; the admin must not then reset the victim on the company's (to a
    password the attacker's secret would hold)."""
    victim = rabbitmq_user()
    with RabbitMQServer() as theirs:
        known = secrets.token_urlsafe(24)
        user = victim["username"]
        for path, body in (
            (f"/api/users/{user}", {"password": known, "tags": ""}),
            (f"/api/permissions/%2F/{user}", {"configure": "", "write": "", "read": ""}),
        ):
            theirs.api("PUT", path, json=body).raise_for_status()
        arn = rotor_secret({**victim, "port": theirs.port, "password": known})

        report = harness(load_handler(str(APP))).rotate(arn)

    assert rotor_rabbitmq.logs_in(victim["username"], victim["password"])  # not reset
    assert not report.succeeded
    assert "another server" in str(report.steps[-1].error)
