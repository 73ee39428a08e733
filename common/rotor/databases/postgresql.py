"""PostgreSQL (and Aurora PostgreSQL) with psycopg 3.

Passwords are sent as SCRAM-SHA-256 verifiers computed on the client (as psql's \\password
does), so the clear text never reaches the server, its logs or pg_stat_statements.
Identifiers are always quoted by psycopg.sql, never interpolated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rotor.databases.engine import Engine
from rotor.databases.tls import TLS_HINT, TlsSettings, system_ca_file
from rotor.errors import AuthenticationFailed, ConfigurationError, ServiceError
from rotor.models import POSTGRES_ENGINES, DatabaseSecret

if TYPE_CHECKING:
    import psycopg

# invalid_password: wrong password, or no such role (the server does not tell them apart).
# A pg_hba.conf rejection (28000) is a configuration problem, reported as such.
_AUTH_SQLSTATE = "28P01"
_AUTH_MESSAGE = "password authentication failed"


# Settings whose stored value is a list of quoted elements (as pg_dump knows them): each
# element must be given as its own literal, or the whole list would become one element.
_LIST_SETTINGS = frozenset({"search_path", "temp_tablespaces", "local_preload_libraries",
                            "session_preload_libraries", "shared_preload_libraries",
                            "unix_socket_directories"})


def _setting_values(name: str, value: str) -> list[str]:
    """A stored role setting as the literals that recreate it (never raw SQL)."""
    if name.lower() not in _LIST_SETTINGS:
        return [value]
    elements, current, quoted, i = [], "", False, 0
    while i < len(value):
        char = value[i]
        if char == '"' and quoted and value[i + 1:i + 2] == '"':
            current, i = current + '"', i + 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            elements.append(current.strip())
            current = ""
        else:
            current += char if quoted or not char.isspace() else ""
        i += 1
    return [*elements, current.strip()]


class PostgreSQL(Engine):
    name = "postgresql"
    engines: ClassVar[frozenset[str]] = POSTGRES_ENGINES
    default_port = 5432
    max_username_bytes = 63  # NAMEDATALEN - 1; longer names are silently truncated

    def connect(self, login: DatabaseSecret, tls: TlsSettings) -> psycopg.Connection[Any]:
        import psycopg  # deferred: keeps the handler's cold start short

        options: dict[str, Any] = {"sslmode": "disable"}
        if tls.enabled:
            root = tls.ca_file or system_ca_file()
            if root is None:
                raise ConfigurationError(
                    "No CA bundle to verify PostgreSQL's certificate: set ROTOR_CA_BUNDLE.")
            options = {"sslmode": "verify-full", "sslrootcert": root}
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

        exists = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                              ([original, clone],)).fetchall()
        if (original,) not in exists:
            raise ServiceError(f"PostgreSQL role '{original}' does not exist; cannot clone it.")
        if (clone,) not in exists:
            conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN").format(sql.Identifier(clone)))
        self._alter_password(conn, clone, password)
        self._sync_attributes(conn, original, clone)
        self._sync_settings(conn, original, clone)
        self._sync_memberships(conn, original, clone)

    def _sync_attributes(self, conn: psycopg.Connection[Any], original: str, clone: str) -> None:
        """Follow the original's attributes, so a role changed later changes the clone too.
        The clone always INHERITs: its privileges come through membership of the original."""
        from psycopg import sql

        createdb, createrole, limit, valid_until = conn.execute(
            "SELECT rolcreatedb, rolcreaterole, rolconnlimit, rolvaliduntil::text "
            "FROM pg_roles WHERE rolname = %s", (original,)).fetchone() or (False, False, -1, None)
        conn.execute(sql.SQL(
            "ALTER ROLE {} WITH INHERIT {} {} CONNECTION LIMIT {} VALID UNTIL {}").format(
                sql.Identifier(clone),
                sql.SQL("CREATEDB" if createdb else "NOCREATEDB"),
                sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
                sql.Literal(int(limit)),
                sql.Literal(valid_until or "infinity"),  # text: 'infinity' is no datetime
        ))

    def _sync_settings(self, conn: psycopg.Connection[Any], original: str, clone: str) -> None:
        """Per-role settings (``ALTER ROLE … [IN DATABASE …] SET``), e.g. search_path."""
        from psycopg import sql

        query = ("SELECT d.datname, s.setconfig FROM pg_db_role_setting s "
                 "JOIN pg_roles r ON r.oid = s.setrole "
                 "LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = %s")
        for database, _ in conn.execute(query, (clone,)).fetchall():
            scope = sql.SQL("") if database is None else sql.SQL(" IN DATABASE {}").format(
                sql.Identifier(database))
            conn.execute(sql.SQL("ALTER ROLE {}{} RESET ALL").format(sql.Identifier(clone), scope))
        for database, settings in conn.execute(query, (original,)).fetchall():
            scope = sql.SQL("") if database is None else sql.SQL(" IN DATABASE {}").format(
                sql.Identifier(database))
            for setting in settings or []:
                name, _, value = setting.partition("=")
                values = sql.SQL(", ").join(sql.Literal(v) for v in _setting_values(name, value))
                conn.execute(sql.SQL("ALTER ROLE {}{} SET {} = {}").format(
                    sql.Identifier(clone), scope, sql.Identifier(name), values))

    def _sync_memberships(self, conn: psycopg.Connection[Any], original: str, clone: str) -> None:
        """The clone is a member of the original (so grants made to the original, now or later,
        reach it) and of every role the original is a direct member of, and of no other."""
        from psycopg import sql

        wanted = {original, *self._memberships(conn, original)}
        have = self._memberships(conn, clone)
        for role in sorted(wanted - have):
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role),
                                                          sql.Identifier(clone)))
        for role in sorted(have - wanted):
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role),
                                                             sql.Identifier(clone)))

    def is_clone_of(self, conn: psycopg.Connection[Any], clone: str, original: str) -> bool:
        """Rotor makes every clone a member of its original; a role that is not was made by
        someone else, and must not get the original's password reset for it."""
        return original in self._memberships(conn, clone)

    def _memberships(self, conn: psycopg.Connection[Any], member: str) -> set[str]:
        rows = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m "
            "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = %s", (member,)
        ).fetchall()
        return {row[0] for row in rows}

    def check(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT 1").fetchone()
