"""MySQL, MariaDB and Aurora MySQL with PyMySQL (pure Python: no native driver to break).

The dialect is read from the server (``SELECT VERSION()``), never configured. Passwords are
always sent as bound parameters (PyMySQL escapes them, honouring NO_BACKSLASH_ESCAPES);
identifiers are backtick-quoted with backticks doubled; grant statements re-applied to the
clone are the server's own ``SHOW GRANTS`` text with only the grantee replaced.

An account is ``'user'@'host'``. A user name defined for several hosts is refused with an
error naming the hosts: rotating one of them would leave the others on the old password.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rotor.databases.engine import Engine
from rotor.databases.tls import TLS_HINT, TlsSettings
from rotor.errors import AuthenticationFailed, ConfigurationError, ServiceError
from rotor.models import MYSQL_ENGINES, DatabaseSecret
from rotor.observability import logger

if TYPE_CHECKING:
    import pymysql

MAX_USERNAME_ENV = "ROTOR_MYSQL_MAX_USERNAME"

_ACCESS_DENIED = 1045  # wrong password, unknown user, or REQUIRE SSL without TLS
_TABLE_DENIED = (1142, 1143)  # SELECT on mysql.user not granted
# 2026: TLS required but not offered; 3159 (MySQL) / 4036 (MariaDB): server requires TLS.
_TLS_ERRORS = (2026, 3159, 4036)
_PLAINTEXT_HINT = ("The secret says \"ssl\": false but the server offers TLS; a server "
                   "requiring TLS rejects a plaintext login this way. Remove \"ssl\": false.")
# A syntax error quotes the statement from the error on ("near '...'"): never show it.
_NEAR = re.compile(r"near '.*", re.DOTALL)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")
# ssl_type in mysql.user -> the REQUIRE clause (SPECIFIED lists CIPHER/ISSUER/SUBJECT).
_REQUIRE = {"": "NONE", "ANY": "SSL", "X509": "X509"}
_LIMITS = ("MAX_QUERIES_PER_HOUR", "MAX_UPDATES_PER_HOUR", "MAX_CONNECTIONS_PER_HOUR",
           "MAX_USER_CONNECTIONS")
_OPTIONS_SQL = (
    "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject, max_questions, max_updates, "
    "max_connections, max_user_connections FROM mysql.user WHERE User = %s AND Host = %s"
)


def quote_ident(name: str) -> str:
    """A MySQL identifier (or account part) in backticks, backticks doubled."""
    return "`" + name.replace("`", "``") + "`"


def account(user: str, host: str) -> str:
    return f"{quote_ident(user)}@{quote_ident(host)}"


@dataclass(frozen=True)
class Server:
    """What ``SELECT VERSION()`` says: ``8.0.36``, ``5.7.44-log``, ``10.11.6-MariaDB``..."""

    version: str

    @property
    def mariadb(self) -> bool:
        return "mariadb" in self.version.lower()

    @property
    def numbers(self) -> tuple[int, int, int]:
        match = _VERSION.match(self.version)
        return (0, 0, 0) if match is None else (int(match[1]), int(match[2]), int(match[3]))

    def username_limit(self) -> int:
        """The documented limit, when the catalogue cannot be read."""
        if self.mariadb:
            return 80
        return 32 if self.numbers >= (5, 7, 8) else 16


class Session:
    """A PyMySQL connection and the server it talks to (detected on first use)."""

    def __init__(self, conn: pymysql.connections.Connection[Any]) -> None:
        self.conn = conn
        self._server: Server | None = None

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = Server(str(self.execute("Server version", "SELECT VERSION()")[0][0]))
        return self._server

    def execute(self, what: str, sql: str, args: tuple[Any, ...] | None = None,
                secret: str | None = None) -> list[tuple[Any, ...]]:
        """Run ``sql``; ``args`` are bound by PyMySQL (``sql`` is never %-formatted without)."""
        import pymysql

        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        except pymysql.MySQLError as exc:
            code, text = _error(exc)
            if secret is not None:
                text = _NEAR.sub("near (statement not shown)", text).replace(secret, "*****")
            raise ServiceError(f"{what} failed: MySQL error {code}: {text}") from None

    def close(self) -> None:
        self.conn.close()


def _error(exc: Exception) -> tuple[int | None, str]:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1]).strip()
    return None, str(exc).strip()


def _override() -> int | None:
    raw = os.environ.get(MAX_USERNAME_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{MAX_USERNAME_ENV} must be a whole number, e.g. 32.")
    return int(raw)


def _several_hosts(user: str, hosts: list[str]) -> ServiceError:
    accounts = ", ".join(f"'{user}'@'{host}'" for host in hosts)
    return ServiceError(
        f"MySQL user '{user}' is defined for several hosts ({accounts}); rotor rotates exactly "
        "one account per secret. Drop the extra accounts or give them other user names, then "
        "rotate again."
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value or "")


@dataclass(frozen=True)
class Grant:
    """One ``SHOW GRANTS`` line, without its grantee: ``head <keyword> grantee [option]``."""

    head: str  # "GRANT SELECT ON `db`.*", "GRANT `role`", "SET DEFAULT ROLE `r`"...
    keyword: str  # TO, FROM (a MySQL 8 partial revoke) or FOR (MariaDB default role)
    option: str  # "", "GRANT" or "ADMIN"

    @classmethod
    def parse(cls, line: str, user: str, host: str) -> Grant:
        forms = (account(user, host), "'{}'@'{}'".format(*(p.replace("'", "\\'")
                                                            for p in (user, host))))
        pattern = r"\s(TO|FROM|FOR)\s+(?:{})(?=\s|$)".format("|".join(map(re.escape, forms)))
        matches = list(re.finditer(pattern, line))
        if not matches:
            shown = line.split(" IDENTIFIED ")[0][:120]
            raise ServiceError(
                f"Cannot read the grant '{shown}' of '{user}'@'{host}'; copy it to the clone "
                "by hand and report this line."
            )
        match = matches[-1]
        tail = re.sub(r"'(?:[^'\\]|\\.|'')*'", "''", line[match.end():]).upper()
        option = next((o for o in ("GRANT", "ADMIN") if f" {o} OPTION" in tail), "")
        return cls(line[:match.start()].strip(), match[1], option)

    def grant(self, grantee: str) -> str:
        suffix = f" WITH {self.option} OPTION" if self.option else ""
        return f"{self.head} {self.keyword} {grantee}{suffix}"

    def revoke(self, grantee: str) -> list[str]:
        """Statements undoing this grant for ``grantee``."""
        if self.keyword == "FOR":
            return [f"SET DEFAULT ROLE NONE FOR {grantee}"]
        if self.keyword == "FROM":  # undo a partial revoke
            return [f"GRANT {self.head.removeprefix('REVOKE ')} TO {grantee}"]
        body = self.head.removeprefix("GRANT ")
        privileges, on, target = _split_on(body)
        if not on:  # a role
            return [f"REVOKE {body} FROM {grantee}"]
        statements = []
        if privileges.strip().upper() != "USAGE":
            statements.append(f"REVOKE {body} FROM {grantee}")
        if self.option == "GRANT" and privileges.strip().upper() != "PROXY":
            statements.append(f"REVOKE GRANT OPTION ON {target} FROM {grantee}")
        return statements


def _split_on(body: str) -> tuple[str, str, str]:
    """``privileges ON object`` split at the first ON outside quotes."""
    quote = ""
    for i, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "`'\"":
            quote = char
        elif body[i:i + 4].upper() == " ON ":
            return body[:i], "ON", body[i + 4:]
    return body, "", ""


class MySQL(Engine):
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
            host=login.host, port=login.port, user=login.username, password=login.password,
            database=login.dbname, connect_timeout=10, read_timeout=60, write_timeout=60,
            autocommit=True, charset="utf8mb4", program_name="rotor", defer_connect=True,
            **options,
        )
        try:
            conn.connect()
        except pymysql.MySQLError as exc:
            code, text = _error(exc)
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
            if code in _TLS_ERRORS or "SSL" in text or "certificate" in text:
                hint = " " + TLS_HINT
            raise ServiceError(
                f"Could not connect to {where}: MySQL error {code}: {text}.{hint}"
            ) from None
        if tls.enabled and not isinstance(getattr(conn, "_sock", None), ssl.SSLSocket):
            conn.close()  # belt and braces: PyMySQL before 1.2 fell back to plaintext here
            raise ServiceError(f"Could not connect to {where} over TLS. {TLS_HINT}")
        return Session(conn)

    # --- user names -----------------------------------------------------------------------
    def configured_username_limit(self) -> int:
        return _override() or self.max_username_bytes

    def username_limit(self, conn: Session) -> int:
        """``ROTOR_MYSQL_MAX_USERNAME``, else the width of mysql.user.User, else by version."""
        override = _override()
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
        rows = conn.execute("Listing the user's accounts",
                            "SELECT Host FROM mysql.user WHERE User = %s", (user,))
        return sorted(_text(row[0]) for row in rows)

    def _host(self, conn: Session, user: str) -> str:
        """The host of ``user``'s only account; refuse a user defined for several hosts."""
        hosts = self._hosts(conn, user)
        if not hosts:
            raise ServiceError(f"MySQL user '{user}' does not exist (no row in mysql.user).")
        if len(hosts) > 1:
            raise _several_hosts(user, hosts)
        return hosts[0]

    # --- passwords --------------------------------------------------------------------------
    def set_own_password(self, conn: Session, username: str, password: str) -> None:
        import pymysql

        hosts: list[str] = []
        try:  # a user allowed to read mysql.user gets the several-hosts check too
            with conn.conn.cursor() as cursor:
                cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (username,))
                hosts = sorted(_text(row[0]) for row in cursor.fetchall())
        except pymysql.MySQLError as exc:
            code, text = _error(exc)
            if code not in _TABLE_DENIED:
                raise ServiceError(f"Listing the accounts of '{username}' failed: {text}") from None
        if len(hosts) > 1:
            raise _several_hosts(username, hosts)
        if conn.server.mariadb:  # MariaDB's ALTER USER needs CREATE USER, even for oneself
            sql = "SET PASSWORD = PASSWORD(%s)"
        else:
            sql = "ALTER USER USER() IDENTIFIED BY %s"
        conn.execute(f"Changing the password of '{username}'", sql, (password,), secret=password)

    def set_password(self, conn: Session, username: str, password: str) -> None:
        host = self._host(conn, username)
        conn.execute(f"Changing the password of '{username}'@'{host}'",
                     "ALTER USER %s@%s IDENTIFIED BY %s", (username, host, password),
                     secret=password)

    # --- the clone --------------------------------------------------------------------------
    def is_clone_of(self, conn: Session, clone: str, original: str) -> bool:
        """Rotor creates the clone on the original's only host. (An account holding CREATE USER
        could make such a clone, but it can also change any password without rotor.)"""
        return self._hosts(conn, clone) == [self._host(conn, original)]

    def ensure_clone(self, conn: Session, original: str, clone: str, password: str) -> None:
        host = self._host(conn, original)
        clone_hosts = self._hosts(conn, clone)
        if [h for h in clone_hosts if h != host]:
            accounts = ", ".join(f"'{clone}'@'{h}'" for h in clone_hosts)
            raise ServiceError(
                f"The clone user '{clone}' exists as {accounts}, but '{original}' is "
                f"'{original}'@'{host}'; drop the clone's other accounts, then rotate again."
            )
        options, values = self._account_options(conn, original, host)
        verb = "ALTER" if clone_hosts else "CREATE"
        conn.execute(f"{verb} USER '{clone}'@'{host}'",
                     f"{verb} USER %s@%s IDENTIFIED BY %s {options}",
                     (clone, host, password, *values), secret=password)
        self._copy_grants(conn, original, clone, host)

    def _account_options(self, conn: Session, user: str, host: str) -> tuple[str, list[str]]:
        """REQUIRE and resource-limit clauses equal to ``user``'s (values to bind)."""
        row = conn.execute(f"Reading the account options of '{user}'@'{host}'",
                           _OPTIONS_SQL, (user, host))[0]
        ssl_type = _text(row[0]).upper()
        values: list[str] = []
        if ssl_type in _REQUIRE:
            require = _REQUIRE[ssl_type]
        else:  # SPECIFIED
            parts = []
            for keyword, value in zip(("CIPHER", "ISSUER", "SUBJECT"), row[1:4], strict=True):
                if _text(value):
                    parts.append(f"{keyword} %s")
                    values.append(_text(value))
            require = " AND ".join(parts) or "SSL"
        limits = " ".join(f"{keyword} {int(value or 0)}"
                          for keyword, value in zip(_LIMITS, row[4:], strict=True))
        return f"REQUIRE {require} WITH {limits}", values

    def _grants(self, conn: Session, user: str, host: str) -> set[Grant]:
        rows = conn.execute(f"SHOW GRANTS FOR '{user}'@'{host}'", "SHOW GRANTS FOR %s@%s",
                            (user, host))
        return {Grant.parse(_text(row[0]), user, host) for row in rows}

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
