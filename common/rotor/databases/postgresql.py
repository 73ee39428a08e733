"""PostgreSQL (and Aurora PostgreSQL) with psycopg 3.

Passwords are sent as SCRAM-SHA-256 verifiers computed on the client (as psql's \\password
does), so the clear text never reaches the server, its logs or pg_stat_statements.
Identifiers are always quoted by psycopg.sql, never interpolated.

The admin runs nothing an application role can shape. An application role may own its
database (and so its ``search_path`` default, views, functions, operators and
``ALTER DATABASE … SET``, including ``role``), so: the admin session never connects to the
application's database (the admin secret's ``dbname``, else ``postgres``); every session is
pinned by startup options, which outrank database and role settings (``search_path`` is
``pg_catalog, pg_temp``, where only the catalogue resolves names, functions and operators;
``role`` is ``none``); and catalogue relations are schema-qualified besides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rotor.databases.engine import CloneState, Engine
from rotor.databases.tls import TLS_HINT, TlsSettings, system_ca_file
from rotor.errors import AuthenticationFailed, ConfigurationError, ServiceError, StateError
from rotor.models import POSTGRES_ENGINES, DatabaseSecret

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

# invalid_password: wrong password, or no such role (the server does not tell them apart).
# A pg_hba.conf rejection (28000) is a configuration problem, reported as such.
_AUTH_SQLSTATE = "28P01"
_AUTH_MESSAGE = "password authentication failed"


# Startup options: PGC_S_CLIENT outranks ALTER DATABASE/ROLE … SET, so a database owner
# cannot change them for sessions of rotor's.
_PINNED = {
    "search_path": "pg_catalog,pg_temp",
    "role": "none",
    "standard_conforming_strings": "on",
    "default_transaction_read_only": "off",
    "DateStyle": "ISO",
}
_OPTIONS = " ".join(f"-c {name}={value}" for name, value in _PINNED.items())
# The comment that proves a role is the alternate rotor made (or adopted) for an original.
# Only a role's administrators may comment on it, and they may change its password anyway.
MARKER = "rotor: alternate of {}"
PG16 = 160000  # per-grant INHERIT and SET options on role memberships


# Settings whose stored value is a list of quoted elements (as pg_dump knows them): each
# element must be given as its own literal, or the whole list would become one element.
_LIST_SETTINGS = frozenset(
    {
        "search_path",
        "temp_tablespaces",
        "local_preload_libraries",
        "session_preload_libraries",
        "shared_preload_libraries",
        "unix_socket_directories",
    }
)


def _setting_values(name: str, value: str) -> list[str]:
    """A stored role setting as the literals that recreate it (never raw SQL)."""
    if name.lower() not in _LIST_SETTINGS:
        return [value]
    elements, current, quoted, i = [], "", False, 0
    while i < len(value):
        char = value[i]
        if char == '"' and quoted and value[i + 1 : i + 2] == '"':
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


@dataclass(frozen=True, order=True)
class Membership:
    """One role a member belongs to, with the options of that grant (OR-ed over grantors)."""

    role: str
    admin: bool = False
    inherit: bool = True
    set: bool = True

    def grant(self, member: str, modern: bool) -> sql.Composed:
        """``GRANT`` with these options; before 16 only ADMIN exists (inheritance is the
        member's attribute and SET ROLE follows membership)."""
        from psycopg import sql

        options: sql.Composable
        if modern:
            options = sql.SQL(" WITH ADMIN {}, INHERIT {}, SET {}").format(
                *(
                    sql.SQL("TRUE" if flag else "FALSE")
                    for flag in (self.admin, self.inherit, self.set)
                )
            )
        else:
            options = sql.SQL(" WITH ADMIN OPTION" if self.admin else "")
        return sql.SQL("GRANT {} TO {}{}").format(
            sql.Identifier(self.role), sql.Identifier(member), options
        )


class PostgreSQL(Engine):
    """PostgreSQL and Aurora PostgreSQL, on psycopg 3 (docs/postgresql.md)."""

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
                    "No CA bundle to verify PostgreSQL's certificate: set ROTOR_CA_BUNDLE."
                )
            options = {"sslmode": "verify-full", "sslrootcert": root}
        where = f"PostgreSQL at {login.host}:{login.port} as '{login.username}'"
        try:
            conn = psycopg.connect(
                host=login.host,
                port=login.port,
                user=login.username,
                password=login.password,
                dbname=login.dbname or "postgres",
                connect_timeout=10,
                application_name="rotor",
                client_encoding="UTF8",
                options=_OPTIONS,
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
        if not conn.pgconn.used_password:
            conn.close()
            raise ServiceError(
                f"{where}: the server let the user in without asking for its password (trust or "
                "peer authentication in pg_hba.conf), so a login proves nothing and a password "
                "change changes nothing; use password authentication (scram-sha-256)."
            )
        return conn

    def check_admin_session(self, conn: psycopg.Connection[Any]) -> None:
        """The admin's database must belong to the admin or a superuser: a database's owner
        sets what sessions there start with (``ALTER DATABASE … SET``), beyond what startup
        options pin (statement_timeout, local_preload_libraries, createrole_self_grant...)."""
        row = conn.execute(
            "SELECT o.rolname, o.rolname = session_user OR o.rolsuper "
            "FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles o ON o.oid = d.datdba "
            "WHERE d.datname = pg_catalog.current_database()"
        ).fetchone()
        if row is not None and not row[1]:
            raise StateError(
                f"The admin session's database is owned by '{row[0]}', which could shape the "
                "admin's sessions there; give the admin secret a 'dbname' the admin or a "
                "superuser owns (or none: 'postgres')."
            )

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

    # --- the clone ----------------------------------------------------------------------
    def clone_state(self, conn: psycopg.Connection[Any], clone: str, original: str) -> CloneState:
        """Rotor's clones carry :data:`MARKER` and are members of their original."""
        row = conn.execute(
            "SELECT pg_catalog.shobj_description(c.oid, 'pg_authid'), EXISTS ("
            " SELECT 1 FROM pg_catalog.pg_auth_members m"
            " JOIN pg_catalog.pg_roles o ON o.oid = m.roleid"
            " WHERE m.member = c.oid AND o.rolname = %s) "
            "FROM pg_catalog.pg_roles c WHERE c.rolname = %s",
            (original, clone),
        ).fetchone()
        if row is None:
            return CloneState.MISSING
        comment, member = row
        return (
            CloneState.OURS
            if comment == MARKER.format(original) and member
            else (CloneState.FOREIGN)
        )

    def mark_clone(self, conn: psycopg.Connection[Any], clone: str, original: str) -> None:
        from psycopg import sql

        with conn.transaction():
            conn.execute(
                sql.SQL("COMMENT ON ROLE {} IS {}").format(
                    sql.Identifier(clone), sql.Literal(MARKER.format(original))
                )
            )
            self._sync_memberships(conn, original, clone)

    def ensure_clone(
        self, conn: psycopg.Connection[Any], original: str, clone: str, password: str
    ) -> None:
        from psycopg import sql

        with conn.transaction():  # all or nothing: never a half-synchronised clone
            exists = conn.execute(
                "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)",
                ([original, clone],),
            ).fetchall()
            if (original,) not in exists:
                raise ServiceError(f"PostgreSQL role '{original}' does not exist; cannot clone it.")
            if (clone,) not in exists:
                conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN").format(sql.Identifier(clone)))
                conn.execute(
                    sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        sql.Identifier(clone), sql.Literal(MARKER.format(original))
                    )
                )
                self._sync_memberships(conn, original, clone)
            elif self.clone_state(conn, clone, original) is not CloneState.OURS:
                raise StateError(
                    f"PostgreSQL role '{clone}' exists but is not the alternate rotor made for "
                    f"'{original}'; refusing to take it over."
                )
            self._alter_password(conn, clone, password)
            self._sync_attributes(conn, original, clone)
            self._sync_settings(conn, original, clone)
            self._sync_memberships(conn, original, clone)

    def _sync_attributes(self, conn: psycopg.Connection[Any], original: str, clone: str) -> None:
        """Follow the original's attributes, so a role changed later changes the clone too.
        The clone always INHERITs (it has the original's privileges through membership); from
        PostgreSQL 16 that is only the default of grants, each of which states its own."""
        from psycopg import sql

        login, createdb, createrole, limit, valid_until = conn.execute(
            "SELECT rolcanlogin, rolcreatedb, rolcreaterole, rolconnlimit, "
            "rolvaliduntil::pg_catalog.text FROM pg_catalog.pg_roles WHERE rolname = %s",
            (original,),
        ).fetchone() or (False, False, False, -1, None)
        conn.execute(
            sql.SQL(
                "ALTER ROLE {} WITH INHERIT {} {} {} CONNECTION LIMIT {} VALID UNTIL {}"
            ).format(
                sql.Identifier(clone),
                sql.SQL("LOGIN" if login else "NOLOGIN"),  # never re-opens a disabled user
                sql.SQL("CREATEDB" if createdb else "NOCREATEDB"),
                sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
                sql.Literal(int(limit)),
                sql.Literal(valid_until or "infinity"),  # text: 'infinity' is no datetime
            )
        )

    def _sync_settings(self, conn: psycopg.Connection[Any], original: str, clone: str) -> None:
        """Per-role settings (``ALTER ROLE … [IN DATABASE …] SET``), e.g. search_path."""
        from psycopg import sql

        query = (
            "SELECT d.datname, s.setconfig FROM pg_catalog.pg_db_role_setting s "
            "JOIN pg_catalog.pg_roles r ON r.oid = s.setrole "
            "LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase "
            "WHERE r.rolname = %s"
        )
        for database, _ in conn.execute(query, (clone,)).fetchall():
            scope = (
                sql.SQL("")
                if database is None
                else sql.SQL(" IN DATABASE {}").format(sql.Identifier(database))
            )
            conn.execute(sql.SQL("ALTER ROLE {}{} RESET ALL").format(sql.Identifier(clone), scope))
        for database, settings in conn.execute(query, (original,)).fetchall():
            scope = (
                sql.SQL("")
                if database is None
                else sql.SQL(" IN DATABASE {}").format(sql.Identifier(database))
            )
            for setting in settings or []:
                name, _, value = setting.partition("=")
                values = sql.SQL(", ").join(sql.Literal(v) for v in _setting_values(name, value))
                conn.execute(
                    sql.SQL("ALTER ROLE {}{} SET {} = {}").format(
                        sql.Identifier(clone), scope, sql.Identifier(name), values
                    )
                )

    def _sync_memberships(self, conn: psycopg.Connection[Any], original: str, clone: str) -> None:
        """The clone's only membership is the original (INHERIT and SET, no ADMIN).

        That alone gives it exactly the original's privileges, SET ROLE targets and ADMIN
        rights, which all follow membership chains with each grant's own options (PostgreSQL 16
        and later) or the member's INHERIT attribute (before 16): a grant or revocation made to
        the original reaches the clone at once, never at its next rotation. Copies of the
        original's memberships would be worse: granted by the admin, they would escape their
        grantor's REVOKE ... CASCADE, and before 16 an INHERIT clone directly in the roles of a
        NOINHERIT original would use privileges the original must SET ROLE for."""
        modern = conn.info.server_version >= PG16
        wanted = Membership(original)
        have = self._memberships(conn, clone, modern)
        for stale in sorted(have - {wanted}):  # includes the original with other options
            self._revoke(conn, stale.role, clone, modern)
        if wanted not in have:
            conn.execute(wanted.grant(clone, modern))

    def _memberships(
        self, conn: psycopg.Connection[Any], member: str, modern: bool
    ) -> set[Membership]:
        options = (
            "pg_catalog.bool_or(m.admin_option), pg_catalog.bool_or(m.inherit_option), "
            "pg_catalog.bool_or(m.set_option)"
            if modern
            else "pg_catalog.bool_or(m.admin_option), true, true"
        )
        rows = conn.execute(
            f"SELECT r.rolname, {options} FROM pg_catalog.pg_auth_members m "  # noqa: S608
            "JOIN pg_catalog.pg_roles r ON r.oid = m.roleid "
            "JOIN pg_catalog.pg_roles u ON u.oid = m.member "
            "WHERE u.rolname = %s GROUP BY r.rolname",
            (member,),
        ).fetchall()
        return {Membership(*row) for row in rows}

    def _revoke(self, conn: psycopg.Connection[Any], role: str, member: str, modern: bool) -> None:
        """Every grant of ``role`` to ``member``: from 16 one per grantor (GRANTED BY)."""
        from psycopg import sql

        if not modern:
            conn.execute(
                sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), sql.Identifier(member))
            )
            return
        grantors = conn.execute(
            "SELECT g.rolname FROM pg_catalog.pg_auth_members m "
            "JOIN pg_catalog.pg_roles r ON r.oid = m.roleid "
            "JOIN pg_catalog.pg_roles u ON u.oid = m.member "
            "JOIN pg_catalog.pg_roles g ON g.oid = m.grantor "
            "WHERE r.rolname = %s AND u.rolname = %s",
            (role, member),
        ).fetchall()
        for (grantor,) in grantors:
            conn.execute(
                sql.SQL("REVOKE {} FROM {} GRANTED BY {}").format(
                    sql.Identifier(role), sql.Identifier(member), sql.Identifier(grantor)
                )
            )

    def check(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT 1").fetchone()
