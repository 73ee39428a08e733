"""The exceptions rotor raises. Each message says what to fix; none carries a secret value."""


class RotationError(Exception):
    """Base of every error rotor raises on purpose."""


class EventError(RotationError):
    """The Lambda event is not a Secrets Manager rotation event."""


class StateError(RotationError):
    """The secret is not in a state this step may act on (rotation disabled, unknown token...)."""


class SecretFormatError(RotationError):
    """A secret value is not the JSON shape the rotator needs. Names the key, never the value."""


class ConfigurationError(RotationError):
    """The function's own settings (environment variables) are invalid."""


class ServiceError(RotationError):
    """The rotated service (database, API) refused or failed an operation."""


class AuthenticationFailed(ServiceError):
    """The service rejected a credential: expected while a rotation converges."""
