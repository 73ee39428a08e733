"""rotor: AWS Secrets Manager rotation, the protocol once and thin rotators on top.

The names below load on first use, so ``import rotor.client`` (an application reading its
secret) pulls in neither the rotation side nor its dependencies.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from rotor._version import __version__

if TYPE_CHECKING:
    from rotor.errors import (
        ConfigurationError,
        RotationError,
        SecretFormatError,
        ServiceError,
        StateError,
    )
    from rotor.protocol import Rotation, Rotator

_LAZY = {
    "ConfigurationError": "rotor.errors",
    "RotationError": "rotor.errors",
    "SecretFormatError": "rotor.errors",
    "ServiceError": "rotor.errors",
    "StateError": "rotor.errors",
    "Rotation": "rotor.protocol",
    "Rotator": "rotor.protocol",
}

__all__ = [
    "ConfigurationError",
    "Rotation",
    "RotationError",
    "Rotator",
    "SecretFormatError",
    "ServiceError",
    "StateError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'rotor' has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)
