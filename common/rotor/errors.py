"""The exceptions rotor raises. Each message says what to fix; none carries a secret value."""

from typing import ClassVar


class RotationError(Exception):
    """Base of every error rotor raises on purpose.

    ``permanent``: retrying the same rotation cannot succeed until someone changes something
    (a secret, a setting, the server's accounts). Secrets Manager retries whatever fails; rotor's
    local harness and CLI stop at once on a permanent error instead of repeating it.
    """

    permanent: ClassVar[bool] = False


class EventError(RotationError):
    """The Lambda event is not a Secrets Manager rotation event."""

    permanent = True


class StateError(RotationError):
    """The secret is not in a state this step may act on (rotation disabled, unknown token...)."""

    permanent = True


class SecretFormatError(RotationError):
    """A secret value is not the JSON shape the rotator needs. Names the key, never the value."""

    permanent = True


class ConfigurationError(RotationError):
    """The function's own settings (environment variables) are invalid."""

    permanent = True


class ServiceError(RotationError):
    """The rotated service (database, API) refused or failed an operation."""


class AuthenticationFailed(ServiceError):
    """The service rejected a credential: expected while a rotation converges."""
