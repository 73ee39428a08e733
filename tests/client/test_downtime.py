"""No query fails because of rotation: consumers query through the helper while rotations run
back to back (small size here; bench/downtime.py runs the full size). The naive client is
shown failing too, so this test can see a failure when there is one."""

from __future__ import annotations

import pytest
from rotor.local import loadtest

from tests.mysql.support import my_secret
from tests.pg import pg_secret

PAIRS = [
    ("postgresql", "single"),
    ("postgresql", "alternating"),
    ("mysql", "single"),
    ("mysql", "alternating"),
]


@pytest.fixture
def load(pg, mdb, sm, harness, new_secret, make_role, make_user, admin_arn):
    def run(engine, strategy, client, rotations):
        if engine == "postgresql":
            user, password = make_role(pg)
            extra = {"masterarn": admin_arn} if strategy == "alternating" else {}
            arn = new_secret(pg_secret(pg, user, password, **extra))
        else:
            user, password = make_user(mdb)
            extra = (
                {"masterarn": new_secret(mdb.admin_secret())} if strategy == "alternating" else {}
            )
            arn = new_secret(my_secret(mdb, user, password, **extra))
        return loadtest.run(
            sm=sm,
            harness=harness(f"{engine}_{strategy}"),
            secret_arn=arn,
            engine=engine,
            strategy=strategy,
            client=client,
            rotations=rotations,
            threads=3,
        )

    return run


@pytest.mark.parametrize(("engine", "strategy"), PAIRS)
def test_the_helper_loses_no_query(load, engine, strategy):
    result = load(engine, strategy, "helper", rotations=6)
    assert result.rotations_failed == 0
    assert result.queries_ok > 50, result
    assert result.queries_failed == 0, result.errors


def test_the_naive_client_fails_in_the_single_user_window(load):
    """What the helper buys: without AWSPENDING, queries between setSecret and finishSecret
    fail. Rotations go on until one such failure is seen (a few are enough)."""
    failed = sum(
        load("postgresql", "single", "naive", rotations=5).queries_failed for _ in range(4)
    )
    assert failed >= 1
