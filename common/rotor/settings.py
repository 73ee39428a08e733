"""Every environment variable rotor reads: one table, parsed and validated here and nowhere else.

The table is the class body of :class:`Settings`: one :class:`Var` per variable with its type,
default, meaning, the template parameter that sets it and the rotor module that reads it
(``scope``; ``None``: every rotator). ``deploy/generate.py`` derives the README's settings
table and template.yaml's parameters and function environments from it, and a test fails
when any other module touches ``os.environ``.

When read: each variable is parsed on first use, not at import (a setting only the MySQL
rotators use never fails another rotator, and an invalid value fails the step that needs it,
as a :class:`~rotor.errors.ConfigurationError` naming the variable). Lambda fixes a
function's environment for the life of its container, so there each variable is parsed once.
:func:`current` still compares the variables' raw values (a few dictionary reads) on every
call and starts afresh when they changed: the local harness, the CLI and tests change the
environment of a running process, and need no reload call for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, overload

from rotor.errors import ConfigurationError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
D = TypeVar("D", int, None)

# Spellings of the flags: AWS's sample rotators accept these.
TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")
_WHOLE = re.compile(r"[0-9]+")


class Kind(Protocol[T_co]):
    """How one variable's text becomes a value; ``describe`` and ``default_doc`` document it."""

    def parse(self, name: str, raw: str | None) -> T_co: ...

    def describe(self) -> str: ...

    def default_doc(self) -> str: ...


def _given(raw: str | None) -> str | None:
    """The value stripped, or ``None`` when unset or blank."""
    if raw is None:
        return None
    return raw.strip() or None


def _number_text(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Flag:
    default: bool

    def parse(self, name: str, raw: str | None) -> bool:
        given = _given(raw)
        if given is None:
            return self.default
        if given.lower() in TRUE or given.lower() in FALSE:
            return given.lower() in TRUE
        raise ConfigurationError(
            f"{name} must be 'true' or 'false' (it is {given[:40]!r}); set it to one of those, "
            f"or leave it empty for {self.default_doc()}."
        )

    def describe(self) -> str:
        return "true / false"

    def default_doc(self) -> str:
        return str(self.default).lower()


@dataclass(frozen=True)
class Whole(Generic[D]):
    """A whole number from ``low`` to ``high`` (``None``: no upper bound)."""

    default: D
    low: int
    high: int | None = None
    unset: str = ""  # what happens without a value, when ``default`` is None
    example: int = 32

    def parse(self, name: str, raw: str | None) -> int | D:
        given = _given(raw)
        if given is None:
            return self.default
        if not _WHOLE.fullmatch(given) or not self._within(int(given)):
            bounds = (
                f"between {self.low} and {self.high}"
                if self.high is not None
                else f"of at least {self.low}"
            )
            raise ConfigurationError(
                f"{name} must be a whole number {bounds} (it is {given[:40]!r}), e.g. "
                f"{self.example}; set it so, or leave it empty for {self.default_doc()}."
            )
        return int(given)

    def _within(self, value: int) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.high is None:
            return f"whole number, at least {self.low}"
        return f"whole number, {self.low} to {self.high}"

    def default_doc(self) -> str:
        return str(self.default) if self.default is not None else self.unset


@dataclass(frozen=True)
class Number:
    """A decimal number from ``low`` to ``high``."""

    default: float
    low: float
    high: float

    def parse(self, name: str, raw: str | None) -> float:
        given = _given(raw)
        if given is None:
            return self.default
        try:
            value = float(given)
        except ValueError:
            value = float("nan")
        if not self.low <= value <= self.high:  # NaN fails too
            raise ConfigurationError(
                f"{name} must be a number from {_number_text(self.low)} to "
                f"{_number_text(self.high)} (it is {given[:40]!r}); set it so, or leave it "
                f"empty for {self.default_doc()}."
            )
        return value

    def describe(self) -> str:
        return f"number, {_number_text(self.low)} to {_number_text(self.high)}"

    def default_doc(self) -> str:
        return _number_text(self.default)


@dataclass(frozen=True)
class Choice:
    """One of ``values``, compared without case; empty means the default."""

    values: tuple[str, ...]
    default: str

    def parse(self, name: str, raw: str | None) -> str:
        given = _given(raw)
        if given is None:
            return self.default
        for allowed in self.values:
            if given.lower() == allowed.lower():
                return allowed
        listed = " or ".join(f"'{v}'" for v in self.values)
        raise ConfigurationError(
            f"{name} must be {listed} (it is {given[:40]!r}); set it to one of those."
        )

    def describe(self) -> str:
        return " / ".join(self.values)

    def default_doc(self) -> str:
        return self.default


@dataclass(frozen=True)
class Text:
    """Any text, taken as it is (an empty value too); unset means the default."""

    default: str

    def parse(self, name: str, raw: str | None) -> str:
        return self.default if raw is None else raw

    def describe(self) -> str:
        return "text"

    def default_doc(self) -> str:
        return self.default


@dataclass(frozen=True)
class OptionalText:
    """Text that may be absent (unset or blank: ``None``); ``shape`` checks it when given."""

    unset: str  # what happens without a value
    kind: str = "text"
    shape: str | None = None  # a regular expression the value must match
    example: str = ""
    deployed: str | None = None  # a stricter shape for deployed functions (template parameter)

    def parse(self, name: str, raw: str | None) -> str | None:
        given = _given(raw)
        if given is not None and self.shape is not None and not re.fullmatch(self.shape, given):
            raise ConfigurationError(
                f"{name} must be a {self.kind} such as {self.example}; set it so, or leave it "
                f"empty for {self.unset}."
            )
        return given

    def describe(self) -> str:
        return self.kind

    def default_doc(self) -> str:
        return self.unset


@dataclass(frozen=True)
class File:
    """The path of an existing file (unset or empty: ``None``)."""

    unset: str
    fix: str  # what to point it at

    def parse(self, name: str, raw: str | None) -> str | None:
        if raw is None or _given(raw) is None:
            return None
        if not os.path.isfile(raw):
            raise ConfigurationError(f"{name} names {raw}, which is not a file; {self.fix}.")
        return raw

    def describe(self) -> str:
        return "path of a file"

    def default_doc(self) -> str:
        return self.unset


class Var(Generic[T]):
    """One row of the table; on a :class:`Settings` object, the variable's parsed value."""

    def __init__(
        self,
        name: str,
        kind: Kind[T],
        topic: str,
        meaning: str,
        *,
        parameter: str | None = None,
        scope: str | None = None,
        blank_parameter: bool = False,
    ) -> None:
        self.name = name
        self.kind = kind
        self.topic = topic  # one of TOPICS: groups the documentation and the template's console
        self.meaning = meaning
        self.parameter = parameter  # the template parameter that sets it (None: not set there)
        self.scope = scope  # the rotor module that reads it; None: every rotator
        # The parameter defaults to empty (rotor's default applies) rather than to the value:
        # kept for parameters that were empty strings before, which deployed stacks reuse.
        self.blank_parameter = blank_parameter
        self.attribute = ""

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    @overload
    def __get__(self, settings: None, owner: type) -> Var[T]: ...

    @overload
    def __get__(self, settings: Settings, owner: type) -> T: ...

    def __get__(self, settings: Settings | None, owner: type) -> Var[T] | T:
        if settings is None:
            return self
        value = self.kind.parse(self.name, settings.environment.get(self.name))
        settings.__dict__[self.attribute] = value  # parsed once: later reads skip the descriptor
        return value

    @property
    def default(self) -> T:
        """The value without the variable (``None``: see ``kind.default_doc()``)."""
        return self.kind.parse(self.name, None)


# What the variables are about, in the order the documentation shows them.
CONNECTIONS, PASSWORDS, ENGINES, OBSERVABILITY = TOPICS = (
    "connections",
    "password policy",
    "engines and providers",
    "observability",
)
_SYSTEM_STORE = "the system trust store"
MAX_PASSWORD_LENGTH = 4096  # GetRandomPassword's limit


def _excluded(what: str, characters: str) -> Var[bool]:
    """``EXCLUDE_<WHAT>``, one of the samples' flags that drop a class of characters."""
    return Var(
        f"EXCLUDE_{what}",
        Flag(False),
        PASSWORDS,
        f"Generated passwords have no {characters}.",
        parameter=f"Exclude{what.title()}",
    )


def _http(what: str, kind: Kind[T], parameter: str, meaning: str) -> Var[T]:
    """``ROTOR_HTTP_<WHAT>``, read by the API-key providers' HTTP client only (its parameter
    defaults to empty, as it did before the table)."""
    return Var(
        f"ROTOR_HTTP_{what}",
        kind,
        ENGINES,
        f"API-key providers: {meaning}",
        parameter=parameter,
        scope="rotor.apikeys",
        blank_parameter=True,
    )


class Settings:
    """The settings of one environment. Each attribute parses its variable on first read."""

    secrets_manager_endpoint = Var(
        "SECRETS_MANAGER_ENDPOINT",
        OptionalText(
            "the Regional endpoint",
            "URL (https:// when deployed)",
            r"https?://\S+",
            "https://vpce-0123-abcd.secretsmanager.eu-west-1.vpce.amazonaws.com",
            deployed=r"https://\S+",
        ),
        CONNECTIONS,
        "Secrets Manager endpoint: a VPC interface endpoint's own DNS name when its private DNS "
        "is off (with private DNS on, the Regional name reaches it), or a local moto server.",
        parameter="SecretsManagerEndpoint",
    )
    ca_bundle = Var(
        "ROTOR_CA_BUNDLE",
        File(
            _SYSTEM_STORE,
            "point it at a PEM bundle (for RDS, the global bundle shipped in "
            "the layer), or leave it empty for the system trust store",
        ),
        CONNECTIONS,
        "PEM bundle that verifies database TLS certificates. For RDS, put the RDS global bundle "
        "in layer/certs/ and set /opt/python/certs/global-bundle.pem.",
        parameter="CaBundle",
    )
    # The password policy: the variables and defaults of AWS's sample rotators.
    password_length = Var(
        "PASSWORD_LENGTH",
        Whole(32, 4, MAX_PASSWORD_LENGTH),
        PASSWORDS,
        "Length of generated passwords.",
        parameter="PasswordLength",
    )
    exclude_characters = Var(
        "EXCLUDE_CHARACTERS",
        Text("/@\"'\\"),
        PASSWORDS,
        "Characters never used in generated passwords (set but empty: none excluded).",
        parameter="ExcludeCharacters",
    )
    exclude_numbers = _excluded("NUMBERS", "digits")
    exclude_punctuation = _excluded("PUNCTUATION", "punctuation")
    exclude_uppercase = _excluded("UPPERCASE", "uppercase letters")
    exclude_lowercase = _excluded("LOWERCASE", "lowercase letters")
    require_each_included_type = Var(
        "REQUIRE_EACH_INCLUDED_TYPE",
        Flag(True),
        PASSWORDS,
        "Generated passwords hold a character of every class not excluded.",
        parameter="RequireEachIncludedType",
    )
    password_source = Var(
        "PASSWORD_SOURCE",
        Choice(("local", "secretsmanager"), "local"),
        PASSWORDS,
        "Where passwords come from: local (the runtime's CSPRNG) or secretsmanager "
        "(GetRandomPassword: one more API call; the template grants it only then).",
        parameter="PasswordSource",
    )
    mysql_max_username = Var(
        "ROTOR_MYSQL_MAX_USERNAME",
        Whole(None, 1, unset="the server's limit (16 or 32)"),
        ENGINES,
        "MySQL family: the user-name limit <user>_clone must fit, checked before anything "
        "changes (docs/mysql.md).",
        parameter="MysqlMaxUsernameLength",
        scope="rotor.databases.mysql",
    )
    http_timeout = _http(
        "TIMEOUT",
        Number(10.0, 0.1, 120),
        "HttpTimeoutSeconds",
        "seconds one HTTP request may take.",
    )
    http_attempts = _http(
        "ATTEMPTS",
        Whole(4, 1, 10),
        "HttpAttempts",
        "attempts at one HTTP request (docs/apikeys.md: which are retried).",
    )
    http_backoff = _http(
        "BACKOFF",
        Number(0.5, 0, 30),
        "HttpBackoffSeconds",
        "first back-off in seconds, doubled per attempt.",
    )
    http_max_wait = _http(
        "MAX_WAIT",
        Number(20.0, 0, 300),
        "HttpMaxWaitSeconds",
        "cap in seconds on any single wait; a provider asking for longer (Retry-After) fails "
        "the step at once.",
    )
    service_name = Var(
        "POWERTOOLS_SERVICE_NAME",
        Text("rotor"),
        OBSERVABILITY,
        "The service of logs, traces and metrics.",
        parameter="ServiceName",
    )
    metrics_namespace = Var(
        "POWERTOOLS_METRICS_NAMESPACE",
        Text("Rotor"),
        OBSERVABILITY,
        "CloudWatch namespace of rotor's metrics (StepSucceeded, StepFailed, StepDuration).",
        parameter="MetricsNamespace",
    )
    log_level = Var(
        "POWERTOOLS_LOG_LEVEL",
        Choice(("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
        OBSERVABILITY,
        "Log level, read by Powertools' Logger (not by rotor itself).",
        parameter="LogLevel",
    )
    trace_disabled = Var(
        "POWERTOOLS_TRACE_DISABLED",
        Flag(False),
        OBSERVABILITY,
        "No X-Ray subsegments even where tracing is active (Powertools reads it too).",
    )
    event_bus = Var(
        "ROTOR_EVENT_BUS",
        OptionalText("no events", "EventBridge bus name", r"[A-Za-z0-9._\-/]{1,256}", "rotations"),
        OBSERVABILITY,
        "EventBridge bus that receives a 'Rotation Succeeded' or 'Rotation Failed' event per "
        "outcome (source rotor); an unreachable bus never fails a rotation.",
        parameter="EventBusName",
    )
    metrics_disabled = Var(
        "POWERTOOLS_METRICS_DISABLED",
        Flag(False),
        OBSERVABILITY,
        "No metrics printed (Powertools reads it too); the CLI and benchmarks set it.",
    )
    xray_daemon_address = Var(
        "AWS_XRAY_DAEMON_ADDRESS",
        OptionalText("no tracing", "host:port"),
        OBSERVABILITY,
        "Set by Lambda when the function's tracing is active; rotor traces only then.",
    )

    def __init__(self, environment: Mapping[str, str]) -> None:
        """``environment``: ``os.environ`` or a stand-in; only the table's variables are kept."""
        self.environment = {v.name: environment[v.name] for v in TABLE if v.name in environment}


TABLE: tuple[Var[Any], ...] = tuple(v for v in vars(Settings).values() if isinstance(v, Var))
_current: Settings | None = None


def current() -> Settings:
    """The settings of this process's environment, parsed at most once while it is unchanged."""
    global _current
    settings = _current
    if settings is None or any(
        settings.environment.get(v.name) != os.environ.get(v.name) for v in TABLE
    ):
        settings = _current = Settings(os.environ)
    return settings
