"""Attacks on the check mode (``{"RotorCheck": ...}``) and on what ``rotor check`` prints:
whoever may invoke a rotor function, or write a secret a platform engineer checks, must get
no more from a check than from a rotation. Each test is the attack, on real servers."""

from __future__ import annotations

from typing import Any

import pytest
from rotor.cli.debug import print_traceback
from rotor.local.harness import LambdaContext

from tests.conftest import handler
from tests.core.cli_support import run
from tests.pg import pg_secret

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


# What a team writes into its secret reaches the operator's terminal: a check's reasons name the
# secret's user. Control characters below 32 are refused when parsed; these are not: a C1
# CSI (erase the line, move up) and a right-to-left override that makes "FAIL" read "PASS".
FORGED = "\x9b2K\x9b1A\u202eLIAF"


def test_terminal_controls_in_a_secret_reach_no_terminal(
    capsys: Any, pg: Any, make_role: Any, new_secret: Any, admin_arn: str
) -> None:
    """A user name carrying terminal controls is printed as visible escapes, never raw, in
    the table, the lines and the error line of `rotor check`."""
    user, password = make_role(pg)
    arn = new_secret(pg_secret(pg, user + FORGED, password, masterarn=admin_arn))

    ran = run(capsys, "check", "--local", "--no-iam", "--rotator", "postgresql-alternating", arn)

    assert ran.code == 1  # the login fails: that user does not exist
    assert not {"\x9b", "\u202e"} & set(ran.out + ran.err)
    assert "\\x9b2K\\x9b1A\\u202eLIAF" in ran.out.replace("\n", "").replace(" ", "")


@pytest.mark.unit
def test_a_debug_traceback_shows_terminal_controls_as_escapes(capsys: Any) -> None:
    """`--debug` prints the traceback of an error whose message may quote a server's answer."""
    try:
        raise RuntimeError(f"the server said {FORGED}")
    except RuntimeError as exc:
        print_traceback(exc)
    err = capsys.readouterr().err
    assert "RuntimeError: the server said \\x9b2K" in err
    assert not {"\x9b", "\u202e"} & set(err)
