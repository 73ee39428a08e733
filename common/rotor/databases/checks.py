"""Preflight checks of the database rotators (:mod:`rotor.preflight`).

Each check is the code a rotation runs, minus every change: the AWSCURRENT value parsed as
the strategy parses it, the admin secret read and held to the same-server rule
(:meth:`~rotor.databases.admin.AdminRotator.admin_login`), one connection with the TLS the
secret asks for, and the clone name measured against the server's limit. A refused login
still proves the server reachable (the driver tells a rejection from a network or TLS error),
so "server reachable" and "current login" fail apart.

The admin secret is read, and its login tried, only once the current login is proven, as a
rotation does (:meth:`~rotor.databases.admin.AdminRotator.require_proof`): whoever can invoke
the function may name any user and any ``masterarn`` in a secret, and must not get the admin
logged in, nor learn its user and server, for a credential it cannot show it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rotor.databases import naming
from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed
from rotor.models import DatabaseSecret
from rotor.preflight import Check, Report
from rotor.protocol import Rotation
from rotor.secrets import CURRENT

if TYPE_CHECKING:
    from rotor.databases.admin import AdminRotator
    from rotor.databases.base import DatabaseRotator

PARSES, REACHABLE, LOGIN = "secret parses", "server reachable", "current login"
ADMIN, ADMIN_LOGIN, CLONE = "admin secret", "admin logs in", "clone name fits"


def _tls(login: DatabaseSecret) -> str:
    return "verified TLS" if login.ssl else 'plaintext ("ssl": false)'


class DatabaseChecks:
    """The checks of one secret; later checks reuse what earlier ones found."""

    def __init__(self, rotator: DatabaseRotator, rotation: Rotation, report: Report) -> None:
        self.rotator, self.engine = rotator, rotator.engine
        self.rotation, self.report = rotation, report
        self.logs_in = False
        self.admin: DatabaseSecret | None = None
        self.limit: int | None = None  # the server's user-name limit, asked as the admin

    def build(self, *, admin: bool, clone: bool) -> list[Check]:
        checks = [
            Check(PARSES, self.parses),
            Check(REACHABLE, self.reachable, (PARSES,)),
            Check(LOGIN, self.current_login, (REACHABLE,)),
        ]
        if admin:
            checks += [
                Check(ADMIN, self.admin_secret, (PARSES, LOGIN)),
                Check(ADMIN_LOGIN, self.admin_login, (ADMIN, LOGIN)),
            ]
        if clone:
            checks.append(Check(CLONE, self.clone_fits, (PARSES,)))
        return checks

    def current(self) -> DatabaseSecret:
        return self.rotator.current_login(self.rotation)

    def parses(self) -> str:
        login = self.current()
        return (
            f"{self.engine.name} user '{login.username}' at {login.host}:{login.port}, "
            f"{_tls(login)}"
        )

    def reachable(self) -> str:
        login = self.current()
        try:
            with self.engine.session(login, TlsSettings.for_secret(login)) as conn:
                self.engine.check(conn)
        except AuthenticationFailed:
            return f"{login.host}:{login.port} answered over {_tls(login)} (the login was refused)"
        self.logs_in = True
        return f"{login.host}:{login.port} answered over {_tls(login)}"

    def current_login(self) -> str:
        login = self.current()
        if not self.logs_in:
            raise AuthenticationFailed(
                f"{self.rotation.where(CURRENT)}: user '{login.username}' is refused by "
                f"{login.host}:{login.port}; a rotation needs AWSCURRENT to log in. Put the "
                "working password in AWSCURRENT (or reset the account to it)."
            )
        return f"user '{login.username}' logs in with {CURRENT}"

    def admin_secret(self) -> str:
        rotator: AdminRotator = self.rotator  # type: ignore[assignment]  # build(admin=True)
        current = self.current()
        self.report.admin_arn = current.masterarn
        self.admin = rotator.admin_login(self.rotation, current)
        return (
            f"{current.masterarn} is readable, names the same server, user '{self.admin.username}'"
        )

    def admin_login(self) -> str:
        admin = self.admin
        assert admin is not None  # needs ADMIN
        with self.engine.session(admin, TlsSettings.for_secret(admin)) as conn:
            self.engine.check_admin_session(conn)
            self.limit = self.engine.username_limit(conn)
        return f"admin '{admin.username}' logs in over {_tls(admin)}"

    def clone_fits(self) -> str:
        clone = naming.clone_of(self.current().username)
        limit = self.limit if self.limit is not None else self.engine.configured_username_limit()
        naming.check_length(clone, limit, self.engine.name)
        source = "the server's" if self.limit is not None else "the configured"
        return f"'{clone}' is {len(clone.encode())} bytes; {source} limit is {limit}"
