"""rotor's pytest plugin: what a rotator's tests need, so nobody writes it by hand.

Installed with ``rotor[dev]`` (a ``pytest11`` entry point), it offers fixtures, all named
``rotor_*``, that start only when a test asks for them:

``rotor_sm``
    A boto3 Secrets Manager client of a moto server on 127.0.0.1, with the rotators' side
    (``SECRETS_MANAGER_ENDPOINT``, every other AWS client through ``AWS_ENDPOINT_URL``) pointed
    at it, and fake credentials for the whole session: a laptop's own AWS profile, keys or
    metadata service are never used, and a request to anywhere but this machine is refused.
``rotor_secret(value, name=None) -> arn``, ``rotor_harness(handler, **options) -> Harness``,
``rotor_check(handler, **options) -> RotatorCheck``
    Factories bound to ``rotor_sm``; ``handler`` is a callable or ``path/to/app.py[:func]``.
``rotor_postgres``, ``rotor_mariadb``, ``rotor_redis``, ``rotor_rabbitmq``
    Throwaway servers with real password authentication, one per session. A server not
    installed here fails the test with a line saying what to install.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:  # rotor itself loads only when a fixture runs: pytest loads this plugin in
    # every run of every project that has rotor[dev], and a project's conftest may still set
    # POWERTOOLS_* before rotor's logger and metrics are made.
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from rotor.local.harness import Handler, Harness
    from rotor.local.rabbitmq import RabbitMQServer
    from rotor.local.servers import LocalServer, MariaDBServer, PostgresServer, RedisServer
    from rotor.testing import RotatorCheck

_Server = TypeVar("_Server", bound="LocalServer")

# Fake credentials, and nothing that could lead botocore to real ones (files, profiles, roles,
# the instance or container metadata endpoints).
_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
_REAL_AWS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


class RemoteEndpointRefused(RuntimeError):
    """A test tried to reach an AWS endpoint that is not on this machine."""


def refuse_remote(request: Any, **_: Any) -> None:
    """botocore ``before-send`` hook: only 127.0.0.1, ::1 and localhost may be reached."""
    from rotor.local.harness import LOCAL_HOSTS

    host = urlsplit(str(request.url)).hostname or ""
    if host not in LOCAL_HOSTS:
        raise RemoteEndpointRefused(
            f"rotor's pytest plugin refused a request to {host}: tests reach AWS only through "
            "the local moto of rotor_sm; build clients without endpoint_url (AWS_ENDPOINT_URL "
            "points them there)."
        )


@pytest.fixture(scope="session")
def rotor_sm() -> Iterator[SecretsManagerClient]:
    """A Secrets Manager client of a local moto server that the handlers under test use too."""
    import boto3

    from rotor import secrets as rotor_secrets
    from rotor.local.moto import LocalMoto

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per moto request
    with pytest.MonkeyPatch.context() as patch, LocalMoto() as moto:
        for name in _REAL_AWS:
            patch.delenv(name, raising=False)
        for name, value in _FAKE_AWS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
        patch.setenv("SECRETS_MANAGER_ENDPOINT", moto.endpoint)
        session = boto3.Session()
        session.events.register("before-send", refuse_remote)
        patch.setattr(boto3, "DEFAULT_SESSION", session)  # boto3.client(): guarded too
        rotor_secrets.reset_client()
        try:
            yield session.client("secretsmanager")
        finally:
            rotor_secrets.reset_client()


@pytest.fixture
def rotor_secret(rotor_sm: SecretsManagerClient) -> Callable[..., str]:
    """``rotor_secret(value, name=None)``: a new secret holding ``value`` (a dict, or JSON
    text); returns its ARN."""

    from rotor.testing import create_secret

    def make(value: Mapping[str, Any] | str, name: str | None = None) -> str:
        return create_secret(rotor_sm, value, name)

    return make


_loaded: dict[str, Handler] = {}


def resolve_handler(handler: Handler | str | os.PathLike[str]) -> Handler:
    """A callable as it is; ``path/to/app.py[:func]`` loaded once per session, as a warm
    Lambda container keeps its module."""
    from rotor.local.harness import load_handler

    if callable(handler):
        return handler
    spec = os.fspath(handler)
    if spec not in _loaded:
        _loaded[spec] = load_handler(spec)
    return _loaded[spec]


@pytest.fixture
def rotor_harness(rotor_sm: SecretsManagerClient) -> Callable[..., Harness]:
    """``rotor_harness(handler, **options)``: a :class:`Harness` driving ``handler``."""

    from rotor.local.harness import Harness

    def make(handler: Handler | str | os.PathLike[str], **options: Any) -> Harness:
        return Harness(rotor_sm, resolve_handler(handler), **options)

    return make


@pytest.fixture
def rotor_check(rotor_sm: SecretsManagerClient) -> Callable[..., RotatorCheck]:
    """``rotor_check(handler, **options)``: a :class:`RotatorCheck` of ``handler``."""

    from rotor.testing import RotatorCheck

    def make(handler: Handler | str | os.PathLike[str], **options: Any) -> RotatorCheck:
        return RotatorCheck(rotor_sm, resolve_handler(handler), **options)

    return make


def _server(kind: type[_Server], fixture: str) -> Iterator[_Server]:
    problem = kind.missing()
    if problem is not None:
        pytest.fail(f"{fixture}: {problem}", pytrace=False)
    with kind() as server:
        yield server


@pytest.fixture(scope="session")
def rotor_postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL cluster: scram-sha-256, admin ``postgres`` (``admin_secret()``)."""
    from rotor.local.servers import PostgresServer

    yield from _server(PostgresServer, "rotor_postgres")


@pytest.fixture(scope="session")
def rotor_mariadb() -> Iterator[MariaDBServer]:
    """A private MariaDB server: password logins over TCP, admin ``rotor_admin``."""
    from rotor.local.servers import MariaDBServer

    yield from _server(MariaDBServer, "rotor_mariadb")


@pytest.fixture(scope="session")
def rotor_redis() -> Iterator[RedisServer]:
    """A private Redis with ACL users: ``default`` disabled, admin ``admin`` with a password."""
    from rotor.local.servers import RedisServer

    yield from _server(RedisServer, "rotor_redis")


@pytest.fixture(scope="session")
def rotor_rabbitmq() -> Iterator[RabbitMQServer]:
    """A private RabbitMQ node with the management API (``management_url``): admin ``admin``
    (administrator tag) its only user, no ``guest``."""
    from rotor.local.rabbitmq import RabbitMQServer

    yield from _server(RabbitMQServer, "rotor_rabbitmq")
