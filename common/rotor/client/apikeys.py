"""API keys from a rotated secret, with the fallback a rotation needs.

::

    key = ApiKey(SecretCredentials("payments-sendgrid"))
    response = key.call(lambda k: session.post(url, headers={"Authorization": f"Bearer {k}"}))

``call`` passes the current key; if the service answers that it is refused (an HTTP response
with status 401 or 403, or an exception your ``rejected`` says is a refusal), it retries once
with the key :class:`SecretCredentials` says to try next (a new AWSCURRENT, or AWSPENDING).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rotor.client import Credential, SecretCredentials

_T = TypeVar("_T")
REFUSED = (401, 403)


class Refused(Exception):
    """Raised inside :meth:`ApiKey.call` for a response that refuses the key."""

    def __init__(self, response: Any) -> None:
        super().__init__(f"the key was refused (HTTP {getattr(response, 'status_code', '?')})")
        self.response = response


class ApiKey:
    """An API key read from a rotated secret's ``field``, retried once with the next key
    when the service refuses it."""

    def __init__(
        self,
        credentials: SecretCredentials,
        field: str = "api_key",
        rejected: Callable[[BaseException], bool] | None = None,
    ) -> None:
        self.credentials = credentials
        self.field = field
        self._rejected = rejected or (lambda exc: False)

    def get(self) -> str:
        """The current key (for clients that take a key once; prefer :meth:`call`)."""
        return str(self.credentials.current()[self.field])

    def call(self, fn: Callable[[str], _T]) -> _T:
        def attempt(credential: Credential) -> _T:
            result = fn(str(credential[self.field]))
            if getattr(result, "status_code", None) in REFUSED:
                raise Refused(result)
            return result

        def rejected(exc: BaseException) -> bool:
            return isinstance(exc, Refused) or self._rejected(exc)

        try:
            return self.credentials.use(attempt, rejected)
        except Refused as refused:  # still refused after the retry: the caller's response
            return refused.response  # type: ignore[no-any-return]
