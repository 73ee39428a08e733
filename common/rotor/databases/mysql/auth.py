"""An account's authentication plugin, and MariaDB password hashes computed on the client.

MariaDB writes statements as it receives them to the general log, the slow log and the binary
log (RDS ships the first two to tables and CloudWatch), so ``IDENTIFIED BY 'clear text'`` would
leave every new password there. rotor sends the hash the account's own plugin stores instead,
as the PostgreSQL engine sends SCRAM verifiers; an account's plugin is never changed. MySQL
rewrites passwords out of those logs itself, so it is given the clear text and keeps hashing
(and salting) it with the account's plugin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from rotor.errors import ServiceError

NATIVE = "mysql_native_password"
ED25519 = "ed25519"
_PLUGIN = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def native_hash(password: str) -> str:
    """``mysql_native_password``: ``*`` and the upper-case hex of SHA1(SHA1(password))."""
    inner = hashlib.sha1(password.encode(), usedforsecurity=False).digest()
    return "*" + hashlib.sha1(inner, usedforsecurity=False).hexdigest().upper()


# Ed25519 (RFC 8032): the field prime, the curve constant and the base point.
_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_BASE = (
    15112221349535400772501151409588531511454012693041857206046113283949847762202,
    46316835694926478169428394003475163141307993866256225615783033603165251855960,
)
_Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)


def _add(p: _Point, q: _Point) -> _Point:
    """Unified addition on the twisted Edwards curve (doubling included)."""
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def ed25519_hash(password: str) -> str:
    """MariaDB's ``ed25519`` plugin: the public key of the secret scalar SHA512(password),
    clamped as in RFC 8032, in base64 without padding (43 characters)."""
    digest = hashlib.sha512(password.encode()).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar = (scalar & ((1 << 254) - 8)) | (1 << 254)
    result: _Point = (0, 1, 1, 0)
    addend: _Point = (*_BASE, 1, _BASE[0] * _BASE[1] % _P)
    while scalar:
        if scalar & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        scalar >>= 1
    inverse = pow(result[2], _P - 2, _P)
    x, y = result[0] * inverse % _P, result[1] * inverse % _P
    encoded = (y | ((x & 1) << 255)).to_bytes(32, "little")
    return base64.b64encode(encoded).decode().rstrip("=")


HASHES: dict[str, Callable[[str], str]] = {NATIVE: native_hash, ED25519: ed25519_hash}


# MariaDB's SHOW CREATE USER: "IDENTIFIED BY PASSWORD '<hash>'" or
# "IDENTIFIED VIA plugin [USING '<string>'] [OR plugin [USING '<string>']]...".
_QUOTED = r"'(?:[^'\\]|\\.|'')*'"
_BY_PASSWORD = re.compile(rf"\sIDENTIFIED BY PASSWORD {_QUOTED}")
_VIA = re.compile(
    rf"\sIDENTIFIED VIA ((?:`?[A-Za-z0-9_]+`?(?: USING {_QUOTED})?"
    rf"(?: OR )?)+)"
)
_METHOD = re.compile(rf"`?([A-Za-z0-9_]+)`?(?: USING {_QUOTED})?")


def methods(show_create_user: str) -> list[str]:
    """The authentication methods in MariaDB's ``SHOW CREATE USER`` text (no ``IDENTIFIED``
    clause: the default plugin, no password)."""
    if _BY_PASSWORD.search(show_create_user):
        return [NATIVE]
    via = _VIA.search(show_create_user)
    if via is None:
        return [NATIVE]
    return [m[1] for m in _METHOD.finditer(via[1]) if m[1].upper() != "OR"]


def password_plugin(found: list[str], account: str) -> str:
    """The one plugin of ``account`` whose password rotor can set without sending it in clear;
    refuses accounts with several methods (rotor would drop the others) or another plugin."""
    if len(found) != 1:
        plugins = " OR ".join(found)
        raise ServiceError(
            f"MySQL account {account} authenticates VIA {plugins}; rotor rotates accounts with "
            "one password method only, so it would drop the others. Give the account one."
        )
    return plugin_name(found[0], account)


def plugin_name(plugin: str, account: str) -> str:
    """A plugin name safe to put in SQL (the server's own, but checked all the same)."""
    if not _PLUGIN.match(plugin):
        raise ServiceError(f"MySQL account {account} has an unreadable plugin name.")
    return plugin


def mariadb_hash(plugin: str, password: str, account: str) -> str:
    """What ``plugin`` stores for ``password``; refuses plugins rotor cannot hash for."""
    hasher = HASHES.get(plugin.lower())
    if hasher is None:
        raise ServiceError(
            f"MySQL account {account} uses the '{plugin}' plugin; rotor sets passwords on "
            f"MariaDB only as hashes of {', '.join(sorted(HASHES))} (the clear text would be "
            "written to the server's logs). Switch the account to one of those plugins."
        )
    return hasher(password)
