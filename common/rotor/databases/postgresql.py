"""PostgreSQL (and Aurora PostgreSQL) with psycopg 3.

Passwords are sent as SCRAM-SHA-256 verifiers computed on the client (as psql's \\password
does), so the clear text never reaches the server, its logs or pg_stat_statements.
Identifiers are always quoted by psycopg.sql, never interpolated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rotor.databases.engine import Engine
from rotor.databases.tls import TLS_HINT, TlsSettings
from rotor.errors import AuthenticationFailed, ServiceError
from rotor.models import POSTGRES_ENGINES, DatabaseSecret

if TYPE_CHECKING:
    import psycopg

# invalid_password: wrong password, or no such role (the server does not tell them apart).
# A pg_hba.conf rejection (28000) is a configuration problem, reported as such.
_AUTH_SQLSTATE = "28P01"
_AUTH_MESSAGE = "password authentication failed"

# Role attributes the clone copies from the original on every rotation.
_ATTRIBUTES = (("rolcreatedb", "CREATEDB"), ("rolcreaterole", "CREATEROLE"),
               ("rolinherit", "INHERIT"))


class PostgreSQL(Engine):
    name = "postgresql"
    engines: ClassVar[frozenset[str]] = POSTGRES_ENGINES
    default_port = 5432
    max_username_bytes = 63  # NAMEDATALEN - 1; longer names are silently truncated

    def connect(self, login: DatabaseSecret, tls: TlsSettings) -> psycopg.Connection[Any]:
        import psycopg  # deferred: keeps the handler's cold start short

        options: dict[str, Any] = {"sslmode": "disable"}
        if tls.enabled:
            options = {"sslmode": "verify-full", "sslrootcert": tls.ca_file or "system"}
        where = f"PostgreSQL at {login.host}:{login.port} as '{login.username}'"
        try:
            return psycopg.connect(
                host=login.host,
                port=login.port,
                user=login.username,
                password=login.password,
                dbname=login.dbname or "postgres",
                connect_timeout=10,
                application_name="rotor",
                autocommit=True,
                **options,
            )
        except psycopg.OperationalError as exc:
            text = str(exc)
            if exc.sqlstate == _AUTH_SQLSTATE or _AUTH_MESSAGE in text:
                raise AuthenticationFailed(f"{where}: credentials rejected.") from None
            hint = ""
            if "SSL" in text or "certificate" in text:
                hint = " " + TLS_HINT
            raise ServiceError(f"Could not connect to {where}: {text.strip()}.{hint}") from None

    def _verifier(self, conn: psycopg.Connection[Any], username: str, password: str) -> str:
        hashed = conn.pgconn.encrypt_password(
            password.encode(), username.encode(), b"scram-sha-256"
        )
        return hashed.decode()

    def _alter_password(self, conn: psycopg.Connection[Any], username: str, password: str) -> None:
        from psycopg import sql

        conn.execute(
            sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                sql.Identifier(username), sql.Literal(self._verifier(conn, username, password))
            )
        )

    def set_own_password(self, conn: psycopg.Connection[Any], username: str, password: str) -> None:
        self._alter_password(conn, username, password)

    def set_password(self, conn: psycopg.Connection[Any], username: str, password: str) -> None:
        self._alter_password(conn, username, password)

    def ensure_clone(
        self, conn: psycopg.Connection[Any], original: str, clone: str, password: str
    ) -> None:
        from psycopg import sql

        rows = conn.execute(
            "SELECT rolname, rolcreatedb, rolcreaterole, rolinherit, rolconnlimit "
            "FROM pg_roles WHERE rolname = ANY(%s)", ([original, clone],)
        ).fetchall()
        roles = {row[0]: row for row in rows}
        if original not in roles:
            raise ServiceError(f"PostgreSQL role '{original}' does not exist; cannot clone it.")
        if clone not in roles:
            conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN").format(sql.Identifier(clone)))
        self._alter_password(conn, clone, password)
        # Attributes: follow the original, so a role changed later is changed in the clone too.
        source = roles[original]
        clauses = [keyword if source[i + 1] else f"NO{keyword}"
                   for i, (_, keyword) in enumerate(_ATTRIBUTES)]
        clauses.append(f"CONNECTION LIMIT {int(source[4])}")
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH " + " ".join(clauses)).format(sql.Identifier(clone))
        )
        # Memberships: the clone is a member of the original (so grants made to the original,
        # now or later, reach it) and of every role the original is a direct member of.
        wanted = {original, *self._memberships(conn, original)}
        have = self._memberships(conn, clone)
        for role in sorted(wanted - have):
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role),
                                                          sql.Identifier(clone)))
        for role in sorted(have - wanted):
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role),
                                                             sql.Identifier(clone)))

    def _memberships(self, conn: psycopg.Connection[Any], member: str) -> set[str]:
        rows = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m "
            "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = %s", (member,)
        ).fetchall()
        return {row[0] for row in rows}

    def check(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT 1").fetchone()
