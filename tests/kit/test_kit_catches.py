"""RotatorCheck catches the bugs a rotator author really makes, each with a message saying
what to fix. The rotator under test is the kit's Redis subject (redis_users), broken one way
at a time."""

from __future__ import annotations

import pytest
from rotor.errors import SecretFormatError

from tests.conftest import handler
from tests.helpers import secret_value
from tests.kit.redis_users.app import RedisUsers
from tests.kit.test_redis_users import redis_user  # noqa: F401 - the fixture


@pytest.fixture
def redis_check(rotor_check, rotor_redis, redis_user):  # noqa: F811
    def make(rotator, **options):
        handler_ = (
            rotator if callable(rotator) and not isinstance(rotator, type) else rotator().handler
        )
        return rotor_check(
            handler_,
            new_secret=redis_user,
            works=lambda v: rotor_redis.logs_in(v["username"], v["password"]),
            **options,
        )

    return make


def test_an_old_password_that_still_works_fails_keeps_new(redis_check):
    class OnePassword(RedisUsers):
        keeps = "new"  # but finished() still keeps the previous password

    with pytest.raises(
        AssertionError,
        match=r"after rotation 1, the previous \(AWSPREVIOUS\) "
        r"credential still works.*setSecret or finished",
    ):
        redis_check(OnePassword).keeps_what_it_declares()


def test_a_finished_that_revokes_nothing_fails_keeps_new_and_previous(redis_check):
    class Hoarder(RedisUsers):
        def finished(self, rotation):
            pass

    with pytest.raises(
        AssertionError, match="after rotation 2, the 2 rotations old credential still works"
    ):
        redis_check(Hoarder).keeps_what_it_declares()


def test_a_verify_that_proves_nothing_fails(redis_check):
    class Trusting(RedisUsers):
        def verify(self, rotation):
            pass

    with pytest.raises(
        AssertionError,
        match="testSecret passed although AWSPENDING holds a credential the service rejects",
    ):
        redis_check(Trusting).rejects_a_wrong_credential()


def test_a_wrong_credential_the_service_accepts_is_the_authors_mistake(redis_check, rotor_redis):
    def admin_login(value):  # a "broken" credential that in fact works
        return {
            **value,
            "username": rotor_redis.superuser,
            "password": rotor_redis.superuser_password,
        }

    with pytest.raises(AssertionError, match="still works: name the key holding the credential"):
        redis_check(RedisUsers, break_credential=admin_login).rejects_a_wrong_credential()


def test_a_rotator_that_keeps_nothing_declared_fails_structure(redis_check):
    class Undeclared(RedisUsers):
        keeps = None

    with pytest.raises(AssertionError, match='set `keeps = "new"`'):
        redis_check(Undeclared).structure()


def test_legacy_previous_still_declares_what_is_kept(redis_check):
    class Undeclared(RedisUsers):
        keeps = None

    redis_check(Undeclared, previous="works").keeps_what_it_declares()
    with pytest.raises(AssertionError, match="contradicts"):
        redis_check(RedisUsers, previous="rejected").structure()


def test_a_malformed_secret_retried_instead_of_refused_fails(redis_check):
    class Careless(RedisUsers):
        def create(self, rotation):
            current = rotation.current()
            return {**current, "password": current["password"][::-1]}  # KeyError when missing

    check = redis_check(Careless)
    with pytest.raises(AssertionError, match="did not say so"):
        check.structure()
    with pytest.raises(AssertionError, match="did not say so"):
        check.stops_at_a_malformed_secret()


def test_an_error_that_does_not_name_the_missing_key_fails(redis_check):
    class Vague(RedisUsers):
        def create(self, rotation):
            if "password" not in rotation.current():
                raise SecretFormatError("The secret is malformed.")
            return super().create(rotation)

    with pytest.raises(AssertionError, match="does not name the key"):
        redis_check(Vague).stops_at_a_malformed_secret()


def test_awspending_left_behind_fails(redis_check, rotor_sm):
    real = RedisUsers().handler

    def sticky(event, context):
        real(event, context)
        if event["Step"] == "finishSecret":  # puts AWSPENDING back, as a buggy finish would
            rotor_sm.update_secret_version_stage(
                SecretId=event["SecretId"],
                VersionStage="AWSPENDING",
                MoveToVersionId=event["ClientRequestToken"],
            )

    with pytest.raises(AssertionError, match="AWSPENDING is left on version"):
        redis_check(sticky, keeps="new_and_previous").rotates()


def test_every_mutant_of_the_kits_subject_fails(redis_check):
    report = redis_check(RedisUsers).mutation_report()
    assert set(report) == {
        "create returns the current value",
        "apply does nothing",
        "verify does nothing",
        "finished does nothing",
        "apply fails when repeated",
        "apply sets a wrong credential when repeated",
    }
    survivors = {name for name, complaint in report.items() if complaint is None}
    assert survivors == set(), report
    # Replayed in a row, the wrong password is only added beside the right one; a retry after
    # a failure before apply's first change is where it bites.
    assert report["apply sets a wrong credential when repeated"].startswith("fault ")


def test_mutants_need_a_rotator(redis_check):
    with pytest.raises(TypeError, match=r"needs the handler of a rotor\.Rotator"):
        redis_check(lambda event, context: None, keeps="new").mutants()


def test_checks_that_need_the_service_say_what_is_missing(rotor_check):
    check = rotor_check(handler("postgresql_single"))
    check.structure()  # needs no service
    with pytest.raises(TypeError, match="needs new_secret="):
        check.rotates()


# --- on a shipped rotator, through the API the kit had before `keeps` ----------------------
def test_a_finish_that_moves_nothing_fails(shipped_check):
    real = handler("postgresql_single")

    def broken(event, context):
        if event["Step"] != "finishSecret":
            real(event, context)

    with pytest.raises(AssertionError, match="rotation failed"):
        shipped_check("postgresql_single", handler=broken).rotates()


def test_a_set_that_breaks_on_replay_fails(shipped_check, pg, sm):
    """A setSecret that, run a second time, sets yet another password (not idempotent)."""
    from psycopg import sql

    real = handler("postgresql_single")
    sets: dict[str, int] = {}

    def forgetful(event, context):
        real(event, context)
        if event["Step"] == "setSecret":
            sets[event["SecretId"]] = sets.get(event["SecretId"], 0) + 1
            if sets[event["SecretId"]] == 2:
                user = secret_value(sm, event["SecretId"], "AWSPENDING")["username"]
                with pg.connect() as conn:
                    conn.execute(
                        sql.SQL("ALTER ROLE {} PASSWORD 'set-again-by-replay'").format(
                            sql.Identifier(user)
                        )
                    )

    with pytest.raises(AssertionError, match=r"does not work|failed"):
        shipped_check("postgresql_single", handler=forgetful).replays()


def test_previous_as_before_keeps_working(shipped_check):
    """``previous=`` (the kit's older way to say what is kept) agrees with the rotator's own
    ``keeps`` and is checked the same way."""
    shipped_check("postgresql_single", previous="rejected").keeps_what_it_declares()
    with pytest.raises(AssertionError, match="contradicts"):
        shipped_check("postgresql_single", previous="works").keeps_what_it_declares()
