"""Third-party API key rotation: the rotator, the provider interface and the registry.

See docs/apikeys.md. Built-in providers: ``sendgrid``, ``datadog`` and ``http`` (configured by
data). ``register_provider`` adds your own.
"""

from rotor.apikeys.datadog import Datadog
from rotor.apikeys.generic import HttpApiSpec, HttpProvider
from rotor.apikeys.http import HttpClient, HttpSettings
from rotor.apikeys.provider import (
    IssuedKey,
    KeyInfo,
    NotOwned,
    OwnedKey,
    Provider,
    ProviderContext,
)
from rotor.apikeys.registry import provider_class, register_provider, registered
from rotor.apikeys.rotator import ApiKeyRotator
from rotor.apikeys.secret import ApiKeySecret
from rotor.apikeys.sendgrid import SendGrid

register_provider("sendgrid", SendGrid)
register_provider("datadog", Datadog)
register_provider("http", HttpProvider)

__all__ = [
    "ApiKeyRotator",
    "ApiKeySecret",
    "Datadog",
    "HttpApiSpec",
    "HttpClient",
    "HttpProvider",
    "HttpSettings",
    "IssuedKey",
    "KeyInfo",
    "NotOwned",
    "OwnedKey",
    "Provider",
    "ProviderContext",
    "SendGrid",
    "provider_class",
    "register_provider",
    "registered",
]
