"""rotor.testing proves rotors' own rotators correct, and catches a broken one."""

from __future__ import annotations

import pytest
from rotor.testing import RotatorCheck

from tests.conftest import handler
from tests.helpers import secret_value
from tests.pg import pg_secret


@pytest.fixture
def pg_check(pg, sm, new_secret, make_role, admin_arn):
    def make(rotator, **kwargs):
        def fresh():
            user, password = make_role(pg)
            extra = {"masterarn": admin_arn} if "alternating" in rotator else {}
            return new_secret(pg_secret(pg, user, password, **extra))

        return RotatorCheck(sm, kwargs.pop("handler", handler(rotator)), new_secret=fresh,
                            works=lambda v: pg.logs_in(v["username"], v["password"]), **kwargs)

    return make


def test_single_user_passes_the_kit(pg_check):
    pg_check("postgresql_single", previous="rejected", window_allowed=True).all()


def test_alternating_users_pass_the_kit(pg_check):
    pg_check("postgresql_alternating", previous="works").all()


def test_the_kit_catches_a_finish_that_moves_nothing(pg_check):
    real = handler("postgresql_single")

    def broken(event, context):
        if event["Step"] != "finishSecret":
            real(event, context)

    with pytest.raises(AssertionError, match="rotation failed"):
        pg_check("postgresql_single", handler=broken).rotates()


def test_the_kit_catches_a_step_that_breaks_on_replay(pg_check, pg, sm):
    """A setSecret that, run a second time, sets yet another password (not idempotent)."""
    real = handler("postgresql_single")
    sets: dict[str, int] = {}

    def forgetful(event, context):
        real(event, context)
        if event["Step"] == "setSecret":
            sets[event["SecretId"]] = sets.get(event["SecretId"], 0) + 1
            if sets[event["SecretId"]] == 2:
                from psycopg import sql

                user = secret_value(sm, event["SecretId"], "AWSPENDING")["username"]
                with pg.connect() as conn:
                    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD 'set-again-by-replay'").format(
                        sql.Identifier(user)))

    with pytest.raises(AssertionError, match=r"does not work|failed"):
        pg_check("postgresql_single", handler=forgetful).replays()
