"""rotor: AWS Secrets Manager rotation, the protocol once and thin rotators on top."""

from rotor.errors import (
    ConfigurationError,
    RotationError,
    SecretFormatError,
    ServiceError,
    StateError,
)
from rotor.protocol import Rotation, Rotator

__all__ = [
    "ConfigurationError",
    "Rotation",
    "RotationError",
    "Rotator",
    "SecretFormatError",
    "ServiceError",
    "StateError",
]
