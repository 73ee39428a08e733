"""Where a MySQL or MariaDB server records which accounts rotor made as alternates.

PostgreSQL keeps that proof on the role itself (a comment only its administrators may set);
MariaDB accounts carry no comment, so the admin keeps a table, ``rotor.alternates``::

    clone_user, host  ->  original_user   (the clone is '<clone_user>'@'<host>')

A row is the proof that rotor made (or was told to adopt) that account for that original; an
account merely named ``<user>_clone`` proves nothing. The proof is only as good as the table,
so before trusting it rotor checks that it is a real table and that no account holds a
database- or table-level grant that could write to it. Accounts with global write privileges
can write to the ``mysql`` schema too, which makes them administrators already.
"""

from __future__ import annotations

from rotor.databases.mysql.session import Session, text
from rotor.errors import ServiceError

SCHEMA, TABLE = "rotor", "alternates"  # also spelt out in the statements below
_WRITE = ("Insert_priv", "Update_priv", "Delete_priv", "Create_priv", "Drop_priv",
          "Alter_priv", "Create_view_priv", "Grant_priv")


def _checked(conn: Session) -> bool:
    """Whether the ledger exists; raises when it exists but cannot be trusted."""
    kind = conn.execute(
        "Reading the alternates ledger", "SELECT TABLE_TYPE FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (SCHEMA, TABLE))
    if not kind:
        return False
    where = f"The alternates ledger {SCHEMA}.{TABLE}"
    if text(kind[0][0]).upper() != "BASE TABLE":
        raise ServiceError(f"{where} is not a table rotor made; drop it, then rotate again.")
    writable = " OR ".join(f"{column} = 'Y'" for column in _WRITE)
    writers = conn.execute(
        "Checking who can write to the alternates ledger",
        f"SELECT User, Host FROM mysql.db WHERE %s LIKE Db AND ({writable}) "  # noqa: S608
        "UNION SELECT User, Host FROM mysql.tables_priv WHERE Db = %s", (SCHEMA, SCHEMA))
    me = conn.execute("Reading the admin's account", "SELECT CURRENT_USER()")[0][0]
    writers = [(u, h) for u, h in writers if f"{text(u)}@{text(h)}" != text(me)]
    if writers:
        accounts = ", ".join(f"'{text(u)}'@'{text(h)}'" for u, h in writers)
        raise ServiceError(
            f"{where} is writable by {accounts} through grants on the '{SCHEMA}' database, so "
            "it proves nothing; revoke those grants, then rotate again."
        )
    return True


def original_of(conn: Session, clone: str, host: str) -> str | None:
    """The original ``'clone'@'host'`` was made for, per the ledger (``None``: not rotor's)."""
    if not _checked(conn):
        return None
    rows = conn.execute(
        "Reading the alternates ledger",
        "SELECT original_user FROM `rotor`.`alternates` WHERE clone_user = %s AND host = %s",
        (clone, host))
    return text(rows[0][0]) if rows else None


def record(conn: Session, clone: str, host: str, original: str) -> None:
    """Record ``'clone'@'host'`` as ``original``'s alternate (creating the ledger if need be)."""
    if not _checked(conn):
        conn.execute("Creating the alternates ledger",
                     "CREATE DATABASE IF NOT EXISTS `rotor`")
        conn.execute(
            "Creating the alternates ledger",
            "CREATE TABLE IF NOT EXISTS `rotor`.`alternates` ("
            "clone_user VARCHAR(255) NOT NULL, host VARCHAR(255) NOT NULL, "
            "original_user VARCHAR(255) NOT NULL, "
            "recorded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
            "PRIMARY KEY (clone_user, host)) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        _checked(conn)
    conn.execute(
        "Recording the alternate in the ledger",
        "INSERT INTO `rotor`.`alternates` (clone_user, host, original_user) VALUES (%s, %s, %s) "
        "ON DUPLICATE KEY UPDATE original_user = VALUES(original_user), "
        "recorded_at = CURRENT_TIMESTAMP", (clone, host, original))
