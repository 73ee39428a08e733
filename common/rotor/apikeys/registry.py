"""Which :class:`~rotor.apikeys.provider.Provider` a secret's ``"provider"`` value selects.

Built in: ``sendgrid``, ``datadog`` and ``http`` (the data-configured provider). Register
your own in the handler module, before the first invocation::

    from rotor.apikeys import ApiKeyRotator, register_provider
    from mycompany.acme import AcmeProvider

    register_provider("acme", AcmeProvider)
    lambda_handler = ApiKeyRotator().handler
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from rotor.apikeys.provider import Provider
from rotor.errors import ConfigurationError, SecretFormatError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_providers: dict[str, type[Provider]] = {}
_lock = threading.Lock()


def register_provider(
    name: str, cls: type[Provider] | None = None, *, replace: bool = False
) -> Callable[[type[Provider]], type[Provider]]:
    """Make ``cls`` the provider for ``"provider": name``. Usable as a class decorator."""
    if not _NAME.match(name):
        raise ConfigurationError(
            f"Provider name {name!r} must be lower case letters, digits, '-', '_' or '.'."
        )

    def add(provider: type[Provider]) -> type[Provider]:
        if not (isinstance(provider, type) and issubclass(provider, Provider)):
            raise ConfigurationError(f"Provider {name!r} must be a subclass of Provider.")
        with _lock:
            if name in _providers and _providers[name] is not provider and not replace:
                raise ConfigurationError(
                    f"Provider {name!r} is already registered; pass replace=True to override."
                )
            _providers[name] = provider
        return provider

    if cls is not None:
        add(cls)
    return add


def provider_class(name: str, where: str) -> type[Provider]:
    """The provider registered under ``name`` (the secret's ``provider``), else an error
    listing the known ones."""
    with _lock:
        found = _providers.get(name)
        known = ", ".join(sorted(_providers))
    if found is None:
        raise SecretFormatError(
            f"{where}: key 'provider' names no registered provider (known: {known})."
        )
    return found


def registered() -> list[str]:
    """The names of the registered providers."""
    with _lock:
        return sorted(_providers)
