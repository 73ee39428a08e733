"""Attacks on the check mode (``{"RotorCheck": ...}``) and on what ``rotor check`` prints:
whoever may invoke a rotor function, or write a secret a platform engineer checks, must get
no more from a check than from a rotation. Each test is the attack, on real servers."""

from __future__ import annotations

from typing import Any

import pytest
from rotor.local.harness import LambdaContext

from tests.conftest import handler
from tests.pg import pg_secret

pytestmark = pytest.mark.functional

ADMIN_SESSION_SQL = "d.datdba"  # check_admin_session's query: only an admin session runs it


def test_an_unproven_secret_never_gets_the_admin_logged_in(
    sm: Any, pg: Any, make_role: Any, new_secret: Any, admin_arn: str
) -> None:
    """A secret naming another team's user with a password its writer does not know, and the
    company's admin as masterarn: a rotation refuses the admin (the current login is not
    proven), so a check must neither read the admin secret nor log the admin in for it."""
    victim, _ = make_role(pg)
    arn = new_secret(pg_secret(pg, victim, "a-guess-0123456789", masterarn=admin_arn))
    admin_sessions = pg.log_text().count(ADMIN_SESSION_SQL)

    report = handler("postgresql_alternating")({"RotorCheck": {"SecretId": arn}}, LambdaContext())

    results = {c["check"]: c for c in report["checks"]}
    assert results["current login"]["status"] == "fail"
    assert results["admin secret"]["status"] == results["admin logs in"]["status"] == "skipped"
    assert report["admin_arn"] is None  # not even read: its user and server stay unknown
    assert "current login" in results["admin logs in"]["reason"]
    assert pg.log_text().count(ADMIN_SESSION_SQL) == admin_sessions  # the admin never logged in
