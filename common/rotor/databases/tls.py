"""TLS settings shared by every database engine.

Verified TLS is the default. Plaintext happens only when the secret says ``"ssl": false``;
a server without TLS is an error, never a silent downgrade (AWS's samples fall back to
plaintext, which users keep reporting). The CA bundle is configurable, not a fixed path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rotor.models import DatabaseSecret
from rotor.settings import current as current_settings

# Appended to a connection error that looks like a TLS problem, whatever the engine.
TLS_HINT = (
    "Check that the server offers TLS and that ROTOR_CA_BUNDLE holds its CA; "
    'set "ssl": false in the secret only for a server without TLS.'
)


# Where distributions keep the system trust store as one PEM file (Amazon Linux, which Lambda
# runs, first). Drivers with their own OpenSSL build (psycopg's binary wheel) do not find it.
_SYSTEM_BUNDLES = (
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/cert.pem",
)


def system_ca_file() -> str | None:
    """The system trust store as a file: ``SSL_CERT_FILE`` or Python's OpenSSL default,
    else the usual distribution paths."""
    import ssl  # deferred: ~10 ms of every cold start otherwise

    default = ssl.get_default_verify_paths().cafile
    candidates = (default, *_SYSTEM_BUNDLES) if default else _SYSTEM_BUNDLES
    return next((path for path in candidates if os.path.isfile(path)), None)


@dataclass(frozen=True)
class TlsSettings:
    """How an engine connects: TLS on or off (the secret's ``ssl``) and the CA bundle
    (``ROTOR_CA_BUNDLE``)."""

    enabled: bool
    ca_file: str | None  # None: the system trust store

    @classmethod
    def for_secret(cls, login: DatabaseSecret) -> TlsSettings:
        if not login.ssl:
            return cls(enabled=False, ca_file=None)
        return cls(enabled=True, ca_file=current_settings().ca_bundle)
