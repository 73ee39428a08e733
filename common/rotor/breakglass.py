"""Break glass: the admin secret authorises one secret's reset without the usual proof.

Before an admin credential acts for a rotated secret, rotor proves that secret's current
credential is real (it logs in; for API keys, it belongs to the admin's account). A credential
that was leaked and then disabled fails exactly that proof, yet must be replaced now. The admin
secret, which only the platform team writes, may then name the rotated secret for a short
while::

    "break_glass": {
      "arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-db-AbCdEf":
        {"until": "2026-11-24T18:00:00Z", "username": "orders"}
    }

Keys are full ARNs (a re-created secret of the same name has another ARN, so it is not
covered). ``until`` is the expiry, ISO 8601 with a time zone, at most ``MAX_WINDOW`` ahead.
``username`` is required for databases: the proof was also what tied the secret's user name to
its writer, so the platform team names the user it means to reset, and rotor refuses any other
(the secret's writer could otherwise name another team's user). The entry is used only when the
proof has failed; the rotated secret cannot grant itself one (only the admin secret is read).
Every use is logged at WARNING with both ARNs and counted in the ``BreakGlassUsed`` metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rotor.errors import SecretFormatError, StateError
from rotor.observability import logger, metrics

KEY = "break_glass"
MAX_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Authorisation:
    until: datetime
    username: str | None


def _parse(raw: Any, where: str) -> Authorisation:
    entry = raw if isinstance(raw, Mapping) else {}
    until_text, username = entry.get("until"), entry.get("username")
    try:
        until = (
            datetime.fromisoformat(until_text.replace("Z", "+00:00"))
            if isinstance(until_text, str)
            else None
        )
    except ValueError:
        until = None
    if until is None or until.tzinfo is None:
        raise SecretFormatError(
            f"{where}: an entry of key '{KEY}' must be an object whose 'until' is an ISO 8601 "
            'time with a zone, e.g. {"until": "2026-11-24T18:00:00Z", "username": "orders"}.'
        )
    if username is not None and (not isinstance(username, str) or not username):
        raise SecretFormatError(f"{where}: 'username' of a '{KEY}' entry must be a user name.")
    return Authorisation(until, username)


def find(
    admin: Mapping[str, Any], secret_arn: str, admin_where: str, now: datetime | None = None
) -> Authorisation | None:
    """The admin secret's unexpired authorisation for ``secret_arn``, if any. Only that entry
    is read: a malformed one is an error (the platform team meant something), others are not
    looked at."""
    entries = admin.get(KEY)
    if entries is None:
        return None
    if not isinstance(entries, Mapping):
        raise SecretFormatError(
            f"{admin_where}: key '{KEY}' must map rotated secret ARNs to authorisations."
        )
    if secret_arn not in entries:
        return None
    found = _parse(entries[secret_arn], admin_where)
    now = now or datetime.now(UTC)
    if found.until - now > MAX_WINDOW:
        raise SecretFormatError(
            f"{admin_where}: key '{KEY}' authorises {secret_arn} until "
            f"{found.until.isoformat()}, more than {MAX_WINDOW.days} days ahead; give a nearer "
            "expiry."
        )
    if found.until <= now:
        logger.info(
            "Break-glass entry has expired; the usual proof applies",
            extra={"secret_arn": secret_arn, "until": found.until.isoformat()},
        )
        return None
    return found


def authorised(
    admin: Mapping[str, Any],
    secret_arn: str,
    admin_where: str,
    *,
    username: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Whether ``admin`` authorises resetting ``secret_arn`` without proof, now; with
    ``username`` (databases), only for that user, which the entry must name. A ``True``
    answer is logged and counted here."""
    found = find(admin, secret_arn, admin_where, now)
    if found is None:
        return False
    if username is not None and found.username is None:
        raise SecretFormatError(
            f"{admin_where}: the '{KEY}' entry for {secret_arn} must name the user to reset "
            "('username'): the secret's writer chooses the user name it holds."
        )
    if username is not None and found.username != username:
        raise StateError(
            f"{admin_where} authorises a reset of user '{found.username}' for {secret_arn}, "
            f"but that secret names user '{username}'; refusing to reset any other user."
        )
    logger.warning(
        "BREAK GLASS: the admin secret authorises this reset without proof of the current "
        "credential",
        extra={
            "secret_arn": secret_arn,
            "admin": admin_where,
            "until": found.until.isoformat(),
            "username": found.username,
        },
    )
    metrics.add_metric("BreakGlassUsed", unit="Count", value=1)
    return True
