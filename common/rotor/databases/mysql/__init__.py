"""MySQL, MariaDB and Aurora MySQL with PyMySQL (pure Python: no native driver to break).

The dialect is read from the server (``SELECT VERSION()``), never configured. New passwords
reach MariaDB only as the hash of the account's own plugin (:mod:`.auth`), and MySQL as bound
parameters that it rewrites out of its logs; identifiers are backtick-quoted with backticks
doubled; grant statements re-applied to the clone are the server's own ``SHOW GRANTS`` text
with only the grantee replaced (:mod:`.grants`). The admin session opens no database of the
application's.

Which ``<user>_clone`` is rotor's: MariaDB accounts carry no comment, so the proof lives in a
marker role, ``rotor_alt_<digest of 'user'@'host'>``, which rotor creates and grants to both
accounts of the pair. Only holders of the role's ADMIN OPTION (its creator, the admin) or of
role administration privileges can grant it; ``DROP USER`` and ``RENAME USER`` carry it away with
the account, so an account made later under either name proves nothing. Logins are honest:
the account the server authenticated (``CURRENT_USER()``) must be the one asked for, not an
anonymous account that happens to accept the password.

An account is ``'user'@'host'``. A user name defined for several hosts is refused with an
error naming the hosts: rotating one of them would leave the others on the old password.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar

from rotor.databases.engine import CloneState, Engine
from rotor.databases.mysql import auth
from rotor.databases.mysql.grants import Grant
from rotor.databases.mysql.session import Server, Session, account, error_of, quote_ident, text
from rotor.databases.tls import TLS_HINT, TlsSettings
from rotor.errors import AuthenticationFailed, ServiceError, StateError
from rotor.models import MYSQL_ENGINES, DatabaseSecret
from rotor.observability import logger
from rotor.settings import current as current_settings

__all__ = ["Grant", "MySQL", "Server", "Session", "account", "quote_ident"]

_ACCESS_DENIED = 1045  # wrong password, unknown user, or REQUIRE SSL without TLS
_TABLE_DENIED = (1142, 1143)  # SELECT on mysql.user not granted
# 2026: TLS required but not offered; 3159 (MySQL) / 4036 (MariaDB): server requires TLS.
_TLS_ERRORS = (2026, 3159, 4036)
_PLAINTEXT_HINT = (
    'The secret says "ssl": false but the server offers TLS; a server '
    'requiring TLS rejects a plaintext login this way. Remove "ssl": false.'
)
_STRICT_HINT = (
    " MariaDB's strict_password_validation refuses password hashes while a "
    "password validation plugin is loaded; rotor never sends the clear text (the "
    "server would log it). Turn strict_password_validation off."
)
# ssl_type in mysql.user -> the REQUIRE clause (SPECIFIED lists CIPHER/ISSUER/SUBJECT).
_REQUIRE = {"": "NONE", "ANY": "SSL", "X509": "X509"}
_LIMITS = (
    "MAX_QUERIES_PER_HOUR",
    "MAX_UPDATES_PER_HOUR",
    "MAX_CONNECTIONS_PER_HOUR",
    "MAX_USER_CONNECTIONS",
)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'")
MARKER_PREFIX = "rotor_alt_"


def marker_role(original: str, host: str) -> str:
    """The role proving an account is the alternate of ``'original'@'host'`` (26 characters,
    within MySQL 8's 32)."""
    digest = hashlib.sha256(f"{original}@{host}".encode()).hexdigest()[:16]
    return MARKER_PREFIX + digest


_OPTIONS_SQL = (
    "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject, max_questions, max_updates, "
    "max_connections, max_user_connections FROM mysql.user WHERE User = %s AND Host = %s"
)


def _several_hosts(user: str, hosts: list[str]) -> ServiceError:
    accounts = ", ".join(f"'{user}'@'{host}'" for host in hosts)
    return ServiceError(
        f"MySQL user '{user}' is defined for several hosts ({accounts}); rotor rotates exactly "
        "one account per secret. Drop the extra accounts or give them other user names, then "
        "rotate again."
    )


class MySQL(Engine):
    """MySQL, MariaDB and Aurora MySQL, on PyMySQL (docs/mysql.md)."""

    name = "mysql"
    engines: ClassVar[frozenset[str]] = MYSQL_ENGINES
    default_port = 3306
    max_username_bytes = 32  # MySQL 5.7.8+, 8.x and Aurora; the server may allow more or less

    def connect(self, login: DatabaseSecret, tls: TlsSettings) -> Session:
        import ssl  # deferred with the driver: neither is needed to import the handler

        import pymysql

        options: dict[str, Any] = {"ssl_disabled": True}
        if tls.enabled:  # an SSLContext makes TLS required: no fallback to plaintext
            context = ssl.create_default_context(cafile=tls.ca_file)  # None: system store
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            options = {"ssl": context}
        where = f"MySQL at {login.host}:{login.port} as '{login.username}'"
        conn = pymysql.connections.Connection(
            host=login.host,
            port=login.port,
            user=login.username,
            password=login.password,
            database=login.dbname,
            connect_timeout=10,
            read_timeout=60,
            write_timeout=60,
            autocommit=True,
            charset="utf8mb4",
            program_name="rotor",
            defer_connect=True,
            **options,
        )
        try:
            conn.connect()
        except pymysql.MySQLError as exc:
            code, message = error_of(exc)
            if code == _ACCESS_DENIED:
                message = f"{where}: credentials rejected."
                offered = getattr(conn, "server_capabilities", 0) & pymysql.constants.CLIENT.SSL
                if not tls.enabled and offered:
                    # MariaDB refuses plaintext under require_secure_transport (or REQUIRE SSL)
                    # with this same error: say so, the strategy only sees a rejected login.
                    message += " " + _PLAINTEXT_HINT
                    logger.warning(message)
                raise AuthenticationFailed(message) from None
            hint = ""
            if code in _TLS_ERRORS or "SSL" in message or "certificate" in message:
                hint = " " + TLS_HINT
            raise ServiceError(
                f"Could not connect to {where}: MySQL error {code}: {message}.{hint}"
            ) from None
        if tls.enabled and not isinstance(getattr(conn, "_sock", None), ssl.SSLSocket):
            conn.close()  # belt and braces: PyMySQL before 1.2 fell back to plaintext here
            raise ServiceError(f"Could not connect to {where} over TLS. {TLS_HINT}")
        session = Session(conn)
        authenticated = session.identify()
        if authenticated.rpartition("@")[0] != login.username:
            session.close()  # e.g. an anonymous ''@'host' account that takes any user name
            raise AuthenticationFailed(
                f"{where}: the server authenticated another account ({authenticated})."
            )
        return session

    # --- user names -----------------------------------------------------------------------
    def configured_username_limit(self) -> int:
        return current_settings().mysql_max_username or self.max_username_bytes

    def username_limit(self, conn: Session) -> int:
        """``ROTOR_MYSQL_MAX_USERNAME``, else the width of mysql.user.User, else by version."""
        override = current_settings().mysql_max_username
        if override is not None:
            return override
        rows = conn.execute(
            "Reading the user-name limit",
            "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user' AND COLUMN_NAME = 'User'",
        )
        if rows and rows[0][0]:
            return int(rows[0][0])
        return conn.server.username_limit()

    def _hosts(self, conn: Session, user: str) -> list[str]:
        rows = conn.execute(
            "Listing the user's accounts", "SELECT Host FROM mysql.user WHERE User = %s", (user,)
        )
        return sorted(text(row[0]) for row in rows)

    def _host(self, conn: Session, user: str) -> str:
        """The host of ``user``'s only account; refuse a user defined for several hosts."""
        hosts = self._hosts(conn, user)
        if not hosts:
            raise ServiceError(f"MySQL user '{user}' does not exist (no row in mysql.user).")
        if len(hosts) > 1:
            raise _several_hosts(user, hosts)
        return hosts[0]

    # --- passwords --------------------------------------------------------------------------
    def _create_text(self, conn: Session, user: str, host: str) -> str:
        shown = account(user, host)
        rows = conn.execute(f"SHOW CREATE USER {shown}", "SHOW CREATE USER %s@%s", (user, host))
        return text(rows[0][0])

    def _plugin(self, conn: Session, user: str, host: str) -> str:
        """The account's password plugin (MariaDB: its only method, see :mod:`.auth`)."""
        shown = account(user, host)
        if conn.server.mariadb:
            return auth.password_plugin(auth.methods(self._create_text(conn, user, host)), shown)
        rows = conn.execute(
            f"Reading the plugin of {shown}",
            "SELECT plugin FROM mysql.user WHERE User = %s AND Host = %s",
            (user, host),
        )
        return auth.plugin_name(text(rows[0][0]) if rows else "", shown)

    def _set(
        self,
        conn: Session,
        statement: str,
        args: tuple[Any, ...],
        password: str,
        plugin: str,
        shown: str,
    ) -> None:
        """Run ``statement`` with ``IDENTIFIED`` where ``{auth}`` stands and ``%s`` for the
        credential: on MariaDB the plugin's hash, on MySQL the password (which MySQL keeps
        out of its logs and hashes with ``plugin``)."""
        if conn.server.mariadb:
            secret = auth.mariadb_hash(plugin, password, shown)
            clause = f"IDENTIFIED VIA {plugin} USING %s"
        else:
            secret, clause = password, f"IDENTIFIED WITH {plugin} BY %s"
        verb = statement.split(" ", 2)[:2]
        try:
            conn.execute(
                f"{' '.join(verb)} {shown}",
                statement.format(auth=clause),
                (*args[:2], secret, *args[2:]),
                secret=secret,
            )
        except ServiceError as exc:
            hint = _STRICT_HINT if "strict-password-validation" in str(exc) else ""
            raise ServiceError(f"{exc}{hint}") from None

    def set_own_password(self, conn: Session, username: str, password: str) -> None:
        import pymysql

        hosts: list[str] = []
        try:  # a user allowed to read mysql.user gets the several-hosts check too
            with conn.conn.cursor() as cursor:
                cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (username,))
                hosts = sorted(text(row[0]) for row in cursor.fetchall())
        except pymysql.MySQLError as exc:
            code, message = error_of(exc)
            if code not in _TABLE_DENIED:
                raise ServiceError(
                    f"Listing the accounts of '{username}' failed: {message}"
                ) from None
        if len(hosts) > 1:
            raise _several_hosts(username, hosts)
        what = f"Changing the password of '{username}'"
        if not conn.server.mariadb:  # MySQL keeps the plugin and logs no password
            conn.execute(what, "ALTER USER USER() IDENTIFIED BY %s", (password,), secret=password)
            return
        # MariaDB's ALTER USER needs CREATE USER, even for oneself; SET PASSWORD does not.
        shown = f"'{username}' (itself)"
        create = conn.execute("SHOW CREATE USER", "SHOW CREATE USER")
        plugin = auth.password_plugin(auth.methods(text(create[0][0])), shown)
        hashed = auth.mariadb_hash(plugin, password, shown)
        try:
            conn.execute(what, "SET PASSWORD = %s", (hashed,), secret=hashed)
        except ServiceError as exc:
            hint = _STRICT_HINT if "strict-password-validation" in str(exc) else ""
            raise ServiceError(f"{exc}{hint}") from None

    def set_password(self, conn: Session, username: str, password: str) -> None:
        host = self._host(conn, username)
        plugin = self._plugin(conn, username, host)
        self._set(
            conn,
            "ALTER USER %s@%s {auth}",
            (username, host),
            password,
            plugin,
            account(username, host),
        )

    def set_passwords(self, conn: Session, username: str, passwords: list[str]) -> None:
        """MariaDB 10.4+: an authentication chain of the account's plugin, one method per
        password; MySQL 8.0.14+: RETAIN CURRENT / DISCARD OLD PASSWORD (untested here)."""
        host = self._host(conn, username)
        shown = account(username, host)
        server = conn.server
        if server.mariadb and server.numbers >= (10, 4, 0):
            plugins = set(auth.methods(self._create_text(conn, username, host)))
            if len(plugins) != 1:
                raise ServiceError(
                    f"MySQL account {shown} authenticates with several plugins "
                    f"({', '.join(sorted(plugins))}); give it one."
                )
            plugin = auth.plugin_name(plugins.pop(), shown)
            hashes = [auth.mariadb_hash(plugin, p, shown) for p in passwords]
            chain = " OR ".join(f"{plugin} USING %s" for _ in hashes)
            conn.execute(
                f"ALTER USER {shown}",
                f"ALTER USER %s@%s IDENTIFIED VIA {chain}",
                (username, host, *hashes),
                secret=hashes,
            )
        elif not server.mariadb and server.numbers >= (8, 0, 14):
            retain = " RETAIN CURRENT PASSWORD" if len(passwords) > 1 else ""
            conn.execute(
                f"ALTER USER {shown}",
                f"ALTER USER %s@%s IDENTIFIED BY %s{retain}",
                (username, host, passwords[-1]),
                secret=passwords[-1],
            )
            if len(passwords) == 1:
                conn.execute(
                    f"ALTER USER {shown}", "ALTER USER %s@%s DISCARD OLD PASSWORD", (username, host)
                )
        else:
            raise ServiceError(
                f"{server.version} holds one password per account (dual passwords need MariaDB "
                "10.4 or MySQL 8.0.14); use alternating users."
            )

    # --- the clone --------------------------------------------------------------------------
    def _roles(self, conn: Session, user: str, host: str) -> set[str]:
        return {g.role for g in self._grants(conn, user, host) if g.role is not None}

    def clone_state(self, conn: Session, clone: str, original: str) -> CloneState:
        """Rotor's clones live on the original's only host, and both accounts hold the pair's
        marker role."""
        hosts = self._hosts(conn, clone)
        if not hosts:
            return CloneState.MISSING
        host = self._host(conn, original)
        role = marker_role(original, host)
        if (
            hosts == [host]
            and role in self._roles(conn, clone, host)
            and (role in self._roles(conn, original, host))
        ):
            return CloneState.OURS
        return CloneState.FOREIGN

    def _mark(self, conn: Session, host: str, *users: str) -> None:
        """Create the pair's marker role (roles need MySQL 8.0 or MariaDB 10.0.5) and grant it
        to ``users``; repeating this is harmless."""
        if not conn.server.mariadb and conn.server.numbers < (8, 0, 0):
            raise ServiceError(
                "Alternating users need roles (MySQL 8.0 or later, or MariaDB): "
                f"this server is {conn.server.version}."
            )
        role = marker_role(users[0], host)
        conn.execute(
            f"Creating the marker role {role}", f"CREATE ROLE IF NOT EXISTS {quote_ident(role)}"
        )
        for user in users:
            conn.execute(
                f"Granting the marker role to '{user}'@'{host}'",
                f"GRANT {quote_ident(role)} TO {account(user, host)}",
            )

    def mark_clone(self, conn: Session, clone: str, original: str) -> None:
        host = self._host(conn, original)
        self._clone_hosts(conn, clone, original, host)
        self._mark(conn, host, original, clone)

    def _clone_hosts(self, conn: Session, clone: str, original: str, host: str) -> list[str]:
        clone_hosts = self._hosts(conn, clone)
        if [h for h in clone_hosts if h != host]:
            accounts = ", ".join(f"'{clone}'@'{h}'" for h in clone_hosts)
            raise ServiceError(
                f"The clone user '{clone}' exists as {accounts}, but '{original}' is "
                f"'{original}'@'{host}'; drop the clone's other accounts, then rotate again."
            )
        return clone_hosts

    def ensure_clone(self, conn: Session, original: str, clone: str, password: str) -> None:
        host = self._host(conn, original)
        exists = bool(self._clone_hosts(conn, clone, original, host))
        if exists and self.clone_state(conn, clone, original) is not CloneState.OURS:
            raise StateError(
                f"MySQL account '{clone}'@'{host}' exists but is not the alternate rotor made "
                f"for '{original}'; refusing to take it over."
            )
        # Every refusal before any change: the plugin and options are read first.
        plugin = self._plugin(conn, original, host)  # the clone authenticates like the original
        options, values = self._account_options(conn, original, host)
        verb = "ALTER" if exists else "CREATE"
        self._set(
            conn,
            f"{verb} USER %s@%s {{auth}} {options}",
            (clone, host, *values),
            password,
            plugin,
            account(clone, host),
        )
        self._mark(conn, host, original, clone)
        self._copy_grants(conn, original, clone, host)

    def _account_options(self, conn: Session, user: str, host: str) -> tuple[str, list[str]]:
        """REQUIRE, resource-limit and ACCOUNT LOCK clauses equal to ``user``'s (values to
        bind): a clone never re-opens an account incident response locked."""
        row = conn.execute(
            f"Reading the account options of '{user}'@'{host}'", _OPTIONS_SQL, (user, host)
        )[0]
        ssl_type = text(row[0]).upper()
        values: list[str] = []
        if ssl_type in _REQUIRE:
            require = _REQUIRE[ssl_type]
        else:  # SPECIFIED
            parts = []
            for keyword, value in zip(("CIPHER", "ISSUER", "SUBJECT"), row[1:4], strict=True):
                if text(value):
                    parts.append(f"{keyword} %s")
                    values.append(text(value))
            require = " AND ".join(parts) or "SSL"
        limits = " ".join(
            f"{keyword} {int(value or 0)}" for keyword, value in zip(_LIMITS, row[4:], strict=True)
        )
        shown = _QUOTED.sub("''", self._create_text(conn, user, host))
        lock = "LOCK" if re.search(r" ACCOUNT LOCK\b", shown) else "UNLOCK"
        return f"REQUIRE {require} WITH {limits} ACCOUNT {lock}", values

    def _grants(self, conn: Session, user: str, host: str) -> set[Grant]:
        rows = conn.execute(
            f"SHOW GRANTS FOR '{user}'@'{host}'", "SHOW GRANTS FOR %s@%s", (user, host)
        )
        return {Grant.parse(text(row[0]), user, host) for row in rows}

    def _copy_grants(self, conn: Session, original: str, clone: str, host: str) -> None:
        """Make the clone's grants equal to the original's: revoke extras, grant the rest."""
        wanted = self._grants(conn, original, host)
        have = self._grants(conn, clone, host)
        grantee = account(clone, host)
        for grant in sorted(have - wanted, key=repr):
            for statement in grant.revoke(grantee):
                conn.execute(f"Revoking from '{clone}'", statement)
        # Roles before SET DEFAULT ROLE, which needs the role granted already.
        for grant in sorted(wanted - have, key=lambda g: (g.keyword == "FOR", repr(g))):
            conn.execute(f"Granting to '{clone}'", grant.grant(grantee))

    def check(self, conn: Session) -> None:
        conn.execute("SELECT 1", "SELECT 1")
