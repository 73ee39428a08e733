"""The trust rules of alternating users, in memory: which admin, for which secret, on whom."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest


def put(world, arn, value):
    world.sm.put_secret_value(
        SecretId=arn, ClientRequestToken=f"v{len(world.sm.calls)}", SecretString=json.dumps(value)
    )


def failed(report, fragment):
    return not report.succeeded and fragment in (report.steps[-1].error or "")


def test_the_current_login_must_work_before_the_admin_acts(world):
    world.db.add("victim", "victims-password")
    arn = world.secret(world.login("victim", "a guess", masterarn=world.admin_arn))
    assert failed(
        world.harness("alternating", attempts=1).rotate(arn), "refusing to use the admin login"
    )
    assert "victim_clone" not in world.db.passwords


def test_an_admin_secret_for_another_server_is_refused(world):
    other = world.secret({**world.login("admin", "admin-password"), "host": "elsewhere"})
    world.db.add("app", "pw-app")
    arn = world.secret(world.login("app", "pw-app", masterarn=other))
    assert failed(
        world.harness("alternating", attempts=1).rotate(arn),
        "refusing to use admin credentials elsewhere",
    )


def test_the_admin_never_rotates_itself(world):
    arn = world.secret(world.login("admin", "admin-password", masterarn=world.admin_arn))
    assert failed(world.harness("alternating", attempts=1).rotate(arn), "the admin of")
    assert world.db.logs_in("admin", "admin-password")


@pytest.mark.parametrize("direction", ["to the clone", "back to the original"])
def test_a_clone_rotor_did_not_make_is_never_touched(world, direction):
    world.db.add("orders", "orders-pw")
    world.db.add("orders_clone", "someone-elses-pw")  # another team's, named so by chance
    user, password = (
        ("orders", "orders-pw")
        if direction == "to the clone"
        else ("orders_clone", "someone-elses-pw")
    )
    arn = world.secret(world.login(user, password, masterarn=world.admin_arn))
    assert failed(
        world.harness("alternating", attempts=1).rotate(arn),
        "nothing on the server proves rotor made it",
    )
    assert world.db.passwords == {
        "admin": "admin-password",
        "orders": "orders-pw",
        "orders_clone": "someone-elses-pw",
    }


def test_adoption_is_bound_to_the_secret(world):
    world.db.add("orders", "orders-pw")
    world.db.add("orders_clone", "clone-pw")
    arn = world.secret(world.login("orders_clone", "clone-pw", masterarn=world.admin_arn))
    other = world.secret(world.login("orders_clone", "clone-pw", masterarn=world.admin_arn))
    put(
        world,
        world.admin_arn,
        {**world.login("admin", "admin-password"), "adopt_users": {arn: "orders_clone"}},
    )
    assert failed(world.harness("alternating", attempts=1).rotate(other), "adopt it")
    assert world.harness("alternating").rotate(arn).succeeded
    assert world.db.marked == {"orders_clone": "orders"} and world.works(arn)


def until(hours: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"until": until(), "username": "app"}, None),
        ({"until": until(), "username": "someone"}, "refusing to reset any other user"),
        ({"until": until()}, "must name the user to reset"),
        ({"until": until(-1), "username": "app"}, "refusing to use the admin login"),
        ({"until": until(24 * 8), "username": "app"}, "more than 7 days ahead"),
        ("2026-01-01T00:00:00Z", "must be an object"),
    ],
)
def test_break_glass(world, entry, fragment):
    arn = world.app(alternating=True)
    world.db.passwords["app"] = "changed by incident response"
    put(
        world,
        world.admin_arn,
        {**world.login("admin", "admin-password"), "break_glass": {arn: entry}},
    )
    report = world.harness("alternating", attempts=1).rotate(arn)
    if fragment is None:
        assert report.succeeded and world.works(arn)
    else:
        assert failed(report, fragment) and "app_clone" not in world.db.passwords


def test_allowed_secrets(world):
    arn = world.app(alternating=True)
    put(
        world,
        world.admin_arn,
        {
            **world.login("admin", "admin-password"),
            "allowed_secrets": ["arn:aws:secretsmanager:*:secret:team-b/*"],
        },
    )
    assert failed(world.harness("alternating", attempts=1).rotate(arn), "does not list secret")
