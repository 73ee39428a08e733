"""The HTTP client every API key provider uses: TLS always verified, timeouts, bounded retries.

* ``https://`` only. Plain ``http://`` is accepted for ``127.0.0.1``, ``::1`` and ``localhost``
  alone (local fakes and tests), never for a remote host.
* Redirects are not followed: a redirect would carry the admin credential's headers to
  another address.
* 429 is retried for every method (the request was refused, not processed); 5xx and
  connection failures only for methods that are safe to repeat (GET, PUT, DELETE...). A POST
  that fails with 5xx is not repeated here: the rotation step fails and the retry of the
  whole rotation finds the key by its name (see :mod:`rotor.apikeys.rotator`).
* ``Retry-After`` (seconds or an HTTP date) is honoured; providers may name other headers
  that carry a wait in seconds (Datadog: ``X-RateLimit-Reset``). A wait longer than the cap
  fails the step at once instead of spending the Lambda's time asleep.

Timeouts, attempts and waits come from the function's ``ROTOR_HTTP_*`` variables (read by
:mod:`rotor.settings`, whose table gives their defaults and ranges).
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from rotor.errors import AuthenticationFailed, SecretFormatError, ServiceError
from rotor.observability import logger, redactor
from rotor.settings import Settings
from rotor.settings import current as current_settings

if TYPE_CHECKING:
    import requests

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
USER_AGENT = "rotor-apikey-rotator/0.1"
EPOCH_THRESHOLD = 1_000_000_000  # larger "seconds" are a Unix time, not a delay


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and retries of a provider's HTTP calls (``ROTOR_HTTP_*``)."""

    timeout: float = Settings.http_timeout.default
    attempts: int = Settings.http_attempts.default
    backoff: float = Settings.http_backoff.default
    max_wait: float = Settings.http_max_wait.default

    @classmethod
    def from_env(cls) -> HttpSettings:
        given = current_settings()
        return cls(
            timeout=given.http_timeout,
            attempts=given.http_attempts,
            backoff=given.http_backoff,
            max_wait=given.http_max_wait,
        )


def check_base_url(url: str, where: str) -> str:
    """``url`` without a trailing slash, or an error naming ``base_url`` (never a value)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        raise SecretFormatError(f"{where}: key 'base_url' must not carry credentials.")
    if not host or parts.query or parts.fragment:
        raise SecretFormatError(f"{where}: key 'base_url' must be a URL like https://host[/path].")
    if parts.scheme == "https":
        return url.rstrip("/")
    if parts.scheme == "http" and _is_local(host):
        return url.rstrip("/")
    raise SecretFormatError(
        f"{where}: key 'base_url' must use https:// (plain http is allowed only for "
        "127.0.0.1 and localhost)."
    )


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds, an HTTP date, or (for the
    providers' own reset headers) a Unix time."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds > EPOCH_THRESHOLD:  # a Unix time (SendGrid's X-RateLimit-Reset)
            seconds -= (now or datetime.now(UTC)).timestamp()
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_NOT_IN_SEGMENTS = "/\\?#%"


def segment_problem(value: object) -> str | None:
    """Why ``value`` cannot be one plain URL path segment (``None``: it can).

    An id is placed in a path as exactly one segment. A dot segment, a slash or backslash
    (``/v3/api_keys/..`` is ``/v3/``), a query or fragment start, a ``%`` (``%2e%2e`` is
    decoded to ``..`` by many servers) or a control character would let the id address another
    resource with the admin credential, so such ids are refused, never encoded.
    """
    if not isinstance(value, str) or not value:
        return "is empty"
    if value in (".", ".."):
        return "is a dot segment ('.' or '..')"
    found = sorted({c for c in value if c in _NOT_IN_SEGMENTS})
    if found:
        return "contains " + " ".join(repr(c) for c in found)
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "contains control characters"
    return None


def path(template: str, /, **values: str) -> str:
    """A URL path with each ``{name}`` replaced by its percent-encoded value.

    Each value must be one plain path segment (see :func:`segment_problem`); anything else
    raises :class:`UnsafePathValue` before a request is made. The error never shows the value.
    """
    for name, value in values.items():
        problem = segment_problem(value)
        if problem is not None:
            raise UnsafePathValue(
                f"The {name} to put in the URL path {template} {problem}; rotor sends an id "
                "only as one plain path segment, so nothing was sent. Correct the id where it "
                "came from (the secret's 'key_id' or 'previous_key_id', or the provider's answer)."
            )
        template = template.replace("{" + name + "}", quote(value, safe=""))
    return template


def safe_id(value: object) -> bool:
    """Whether ``value`` may be used as a key id (one plain path segment)."""
    return segment_problem(value) is None


class UnsafePathValue(ServiceError):
    """An id that cannot stand as one URL path segment: refused before any request."""


class HttpResponse:
    """What a provider needs of a response: status, headers and the JSON body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise ServiceError(
                f"{what}: the provider answered {self.status} without JSON."
            ) from None


class HttpClient:
    """One provider's base URL and the requests made to it."""

    def __init__(
        self,
        base_url: str,
        *,
        provider: str,
        settings: HttpSettings | None = None,
        wait_headers: Collection[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url
        self.provider = provider
        self.settings = settings or HttpSettings.from_env()
        self.wait_headers = ("Retry-After", *wait_headers)
        self.sleep = sleep
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests  # deferred: only API key rotators need it

            session = requests.Session()
            session.verify = True  # HTTPS_PROXY / REQUESTS_CA_BUNDLE still apply (VPC egress)
            session.headers["User-Agent"] = USER_AGENT
            self._session = session
        return self._session

    def request_json(self, method: str, url_path: str, what: str, **kwargs: Any) -> Any:
        """:meth:`request` for a call whose answer must be JSON (no ``missing_ok``)."""
        response = self.request(method, url_path, what, **kwargs)
        if response is None:  # only with missing_ok, which this method does not pass
            raise ServiceError(f"{what}: the provider answered 404.")
        return response.json(what)

    def request(
        self,
        method: str,
        url_path: str,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        ok: Collection[int] = (200, 201, 204),
        missing_ok: bool = False,
        credential: str = "admin credential",
    ) -> HttpResponse | None:
        """Send the request with retries. ``None`` for a 404 when ``missing_ok``.

        ``what`` says in a few words what the call does (for errors and logs); ``credential``
        names the credential the call authenticates with, so a 401/403 says which one failed.
        """
        import requests

        method = method.upper()
        url = self.base_url + url_path
        last_error = ""
        for attempt in range(1, self.settings.attempts + 1):
            try:
                raw = self.session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    json=json_body,
                    params=params,
                    timeout=self.settings.timeout,
                    allow_redirects=False,
                    verify=True,
                )
            except requests.exceptions.SSLError as exc:
                raise ServiceError(
                    f"{what}: TLS verification of {self.provider} failed ({type(exc).__name__})."
                ) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                last_error = f"{type(exc).__name__} reaching {self.provider}"
                sent = not isinstance(exc, requests.exceptions.ConnectTimeout)
                if (sent and method not in SAFE_METHODS) or attempt == self.settings.attempts:
                    raise ServiceError(f"{what}: {last_error}.") from None
                self._pause(self._backoff(attempt), what, last_error)
                continue
            response = HttpResponse(raw.status_code, raw.headers, raw.content)
            if response.status in ok:
                return response
            if response.status == 404 and missing_ok:
                return None
            retryable = response.status == 429 or (
                response.status in RETRY_STATUSES and method in SAFE_METHODS
            )
            last_error = f"{self.provider} answered {response.status}"
            if not retryable or attempt == self.settings.attempts:
                break
            wait = self._wait_from_headers(response)
            if wait is not None and wait > self.settings.max_wait:
                raise ServiceError(
                    f"{what}: {self.provider} is rate limiting and asks to wait {wait:.0f} s, "
                    f"more than ROTOR_HTTP_MAX_WAIT ({self.settings.max_wait:.0f} s); the "
                    "rotation will be retried."
                )
            self._pause(self._backoff(attempt) if wait is None else wait, what, last_error)
        raise self._failure(response, what, credential)

    def delete(self, url_path: str, what: str, headers: Mapping[str, str]) -> bool:
        """DELETE that treats 404 as done: ``False`` when the thing was already gone."""
        response = self.request(
            "DELETE", url_path, what, headers=headers, ok=(200, 202, 204), missing_ok=True
        )
        return response is not None

    def _wait_from_headers(self, response: HttpResponse) -> float | None:
        for name in self.wait_headers:
            wait = retry_after(response.headers.get(name))
            if wait is not None:
                return wait
        return None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.max_wait, self.settings.backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret

    def _pause(self, seconds: float, what: str, reason: str) -> None:
        logger.info(
            "Retrying provider call",
            extra={"call": what, "reason": reason, "wait_seconds": round(seconds, 3)},
        )
        self.sleep(seconds)

    def _failure(self, response: HttpResponse, what: str, credential: str) -> ServiceError:
        detail = _error_detail(response.body)
        suffix = f": {detail}" if detail else ""
        if response.status in (401, 403):
            return AuthenticationFailed(
                f"{what}: {self.provider} rejected the {credential} ({response.status}){suffix}."
            )
        return ServiceError(f"{what}: {self.provider} answered {response.status}{suffix}.")


def _error_detail(body: bytes) -> str:
    """The provider's own error text, short and scrubbed (error bodies never hold new keys)."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    messages: list[str] = []
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        for item in errors[:3]:
            if isinstance(item, str):
                messages.append(item)
            elif isinstance(item, dict) and isinstance(item.get("message"), str):
                field = item.get("field")
                messages.append(f"{field}: {item['message']}" if field else item["message"])
    elif isinstance(data, dict):
        for name in ("message", "error", "detail"):
            if isinstance(data.get(name), str):
                messages.append(data[name])
                break
    return redactor.scrub("; ".join(messages))[:300]
