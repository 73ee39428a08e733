"""Break glass: the admin secret authorises one secret's reset without the usual proof.

Before an admin credential acts for a rotated secret, rotor proves that secret's current
credential is real (it logs in; for API keys, it belongs to the admin's account). A credential
that was leaked and then disabled fails exactly that proof, yet must be replaced now. The admin
secret, which only the platform team writes, may then name the rotated secret for a short
while::

    "break_glass": {"arn:aws:secretsmanager:eu-west-1:111122223333:secret:payments-db-AbCdEf":
                    "2026-11-24T18:00:00Z"}

Keys are full ARNs (a re-created secret of the same name has another ARN, so it is not
covered); values are the expiry, ISO 8601 with a time zone, at most ``MAX_WINDOW`` ahead. The
rotated secret cannot grant itself this: only the admin secret is read. Every use is logged at
WARNING with both ARNs and counted in the ``BreakGlassUsed`` metric; alarm on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from rotor.errors import SecretFormatError
from rotor.observability import logger, metrics

KEY = "break_glass"
MAX_WINDOW = timedelta(days=7)


def _expiry(raw: Any, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise SecretFormatError(
            f"{where}: each value of key '{KEY}' must be an ISO 8601 time with a zone, "
            "e.g. 2026-11-24T18:00:00Z (when the authorisation ends)."
        )
    return when


def authorised(admin: Mapping[str, Any], secret_arn: str, admin_where: str,
               now: datetime | None = None) -> bool:
    """Whether ``admin`` authorises resetting ``secret_arn`` without proof, now.

    A malformed entry is an error (the platform team meant something and must fix it); an
    expired one or none is ``False``. A ``True`` answer is logged and counted here.
    """
    entries = admin.get(KEY)
    if entries is None:
        return False
    if not isinstance(entries, Mapping) or not all(isinstance(k, str) for k in entries):
        raise SecretFormatError(
            f"{admin_where}: key '{KEY}' must map rotated secret ARNs to expiry times."
        )
    if secret_arn not in entries:
        return False
    until = _expiry(entries[secret_arn], admin_where)
    now = now or datetime.now(UTC)
    if until - now > MAX_WINDOW:
        raise SecretFormatError(
            f"{admin_where}: key '{KEY}' authorises {secret_arn} until {until.isoformat()}, "
            f"more than {MAX_WINDOW.days} days ahead; give a nearer expiry."
        )
    if until <= now:
        logger.info("Break-glass entry has expired; the usual proof applies",
                    extra={"secret_arn": secret_arn, "until": until.isoformat()})
        return False
    logger.warning(
        "BREAK GLASS: the admin secret authorises this reset without proof of the current "
        "credential", extra={"secret_arn": secret_arn, "admin": admin_where,
                             "until": until.isoformat()},
    )
    metrics.add_metric("BreakGlassUsed", unit="Count", value=1)
    return True
