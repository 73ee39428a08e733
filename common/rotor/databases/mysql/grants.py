"""``SHOW GRANTS`` lines read back as grants that can be given to (or taken from) another
account: the server's own text with only the grantee replaced, never rebuilt by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rotor.databases.mysql.session import account
from rotor.errors import ServiceError

_ROLE = re.compile(r"^GRANT `((?:[^`]|``)+)`(?:@`%`)?$")


@dataclass(frozen=True)
class Grant:
    """One ``SHOW GRANTS`` line, without its grantee: ``head <keyword> grantee [option]``."""

    head: str  # "GRANT SELECT ON `db`.*", "GRANT `role`", "SET DEFAULT ROLE `r`"...
    keyword: str  # TO, FROM (a MySQL 8 partial revoke) or FOR (MariaDB default role)
    option: str  # "", "GRANT" or "ADMIN"

    @classmethod
    def parse(cls, line: str, user: str, host: str) -> Grant:
        forms = (
            account(user, host),
            "'{}'@'{}'".format(*(p.replace("'", "\\'") for p in (user, host))),
        )
        pattern = r"\s(TO|FROM|FOR)\s+(?:{})(?=\s|$)".format("|".join(map(re.escape, forms)))
        matches = list(re.finditer(pattern, line))
        if not matches:
            shown = line.split(" IDENTIFIED ")[0][:120]
            raise ServiceError(
                f"Cannot read the grant '{shown}' of '{user}'@'{host}'; copy it to the clone "
                "by hand and report this line."
            )
        match = matches[-1]
        tail = re.sub(r"'(?:[^'\\]|\\.|'')*'", "''", line[match.end() :]).upper()
        option = next((o for o in ("GRANT", "ADMIN") if f" {o} OPTION" in tail), "")
        return cls(line[: match.start()].strip(), match[1], option)

    @property
    def role(self) -> str | None:
        """The role this line grants (``GRANT `r` TO``, MySQL 8: ``GRANT `r`@`%` TO``)."""
        match = _ROLE.match(self.head) if self.keyword == "TO" else None
        return match[1].replace("``", "`") if match else None

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
        elif body[i : i + 4].upper() == " ON ":
            return body[:i], "ON", body[i + 4 :]
    return body, "", ""
