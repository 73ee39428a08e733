"""In-memory stand-ins for Secrets Manager and a database, for the fast test tier.

They let the protocol's state machine, stage handling, trust rules and retry policy be tested in
milliseconds, without a moto server or a database. They follow Secrets Manager's documented
behaviour, not moto's (GetSecretValue without a stage returns AWSCURRENT; RotateSecret leaves
AWSCURRENT where it is), and only as far as rotor uses it: everything else raises. The slower
tiers prove the same things against moto and real servers; these never replace them.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from rotor.databases.engine import CloneState, Engine
from rotor.databases.tls import TlsSettings
from rotor.errors import AuthenticationFailed, ServiceError, StateError
from rotor.models import POSTGRES_ENGINES, DatabaseSecret

ACCOUNT, REGION = "123456789012", "us-east-1"
CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"


class _ClientError(ClientError):
    """botocore's ClientError, as the real client raises it."""

    code = "ClientError"

    def __init__(self, message: str, operation: str = "") -> None:
        super().__init__({"Error": {"Code": self.code, "Message": message}}, operation)


class ResourceNotFoundException(_ClientError):
    code = "ResourceNotFoundException"


class InvalidRequestException(_ClientError):
    code = "InvalidRequestException"


class _Exceptions:
    ResourceNotFoundException = ResourceNotFoundException
    InvalidRequestException = InvalidRequestException


@dataclass
class _Secret:
    arn: str
    name: str
    values: dict[str, str | None] = field(default_factory=dict)  # version -> SecretString
    stages: dict[str, list[str]] = field(default_factory=dict)  # version -> labels
    rotation_enabled: bool | None = None  # None: never configured (absent in DescribeSecret)
    tags: list[dict[str, str]] = field(default_factory=list)


class MemorySecretsManager:
    """The Secrets Manager calls rotor, its harness and its test kit make, in memory.

    ``calls`` records every operation's name, so a test can count them; ``fail`` makes the
    next call of an operation raise (before it runs), for fault walks."""

    exceptions = _Exceptions

    def __init__(self, region: str = REGION) -> None:
        self._secrets: dict[str, _Secret] = {}
        self._lock = threading.RLock()
        self.calls: list[str] = []
        self._failures: dict[str, list[Exception]] = {}
        self.meta = type(
            "Meta", (), {"region_name": region, "endpoint_url": "http://127.0.0.1:0"}
        )()

    # --- test controls ---------------------------------------------------------------------
    def fail(self, operation: str, error: Exception | None = None) -> None:
        self._failures.setdefault(operation, []).append(
            error or ConnectionError(f"injected: {operation} failed")
        )

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        queue = self._failures.get(operation)
        if queue:
            raise queue.pop(0)

    def _find(self, secret_id: str, operation: str) -> _Secret:
        for secret in self._secrets.values():
            if secret_id in (secret.arn, secret.name) or (
                secret_id.startswith("arn:") and secret.arn.startswith(secret_id + "-")
            ):
                return secret
        raise ResourceNotFoundException(
            "Secrets Manager can't find the specified secret.", operation
        )

    # --- the API ---------------------------------------------------------------------------
    def create_secret(
        self, *, Name: str, SecretString: str, ClientRequestToken: str | None = None, **_: Any
    ) -> dict[str, Any]:
        with self._lock:
            self._enter("create_secret")
            suffix = "".join(secrets.choice(string.ascii_letters) for _ in range(6))
            arn = f"arn:aws:secretsmanager:{self.meta.region_name}:{ACCOUNT}:secret:{Name}-{suffix}"
            version = ClientRequestToken or str(uuid.uuid4())
            self._secrets[arn] = _Secret(arn, Name, {version: SecretString}, {version: [CURRENT]})
            return {"ARN": arn, "Name": Name, "VersionId": version}

    def describe_secret(self, *, SecretId: str) -> dict[str, Any]:
        with self._lock:
            self._enter("describe_secret")
            secret = self._find(SecretId, "DescribeSecret")
            answer: dict[str, Any] = {
                "ARN": secret.arn,
                "Name": secret.name,
                "VersionIdsToStages": {v: list(s) for v, s in secret.stages.items() if s},
                "Tags": copy.deepcopy(secret.tags),
            }
            if secret.rotation_enabled is not None:
                answer["RotationEnabled"] = secret.rotation_enabled
            return answer

    def get_secret_value(
        self, *, SecretId: str, VersionId: str | None = None, VersionStage: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            self._enter("get_secret_value")
            secret = self._find(SecretId, "GetSecretValue")
            stage = VersionStage or (None if VersionId else CURRENT)
            version = VersionId or next((v for v, s in secret.stages.items() if stage in s), None)
            labels = secret.stages.get(version or "", [])
            if (
                version is None
                or version not in secret.values
                or (stage is not None and stage not in labels)
            ):
                raise ResourceNotFoundException(
                    "Secrets Manager can't find the specified secret value for VersionId or "
                    "VersionStage",
                    "GetSecretValue",
                )
            value = secret.values[version]
            if value is None:
                raise ResourceNotFoundException("The version has no value yet.", "GetSecretValue")
            return {
                "ARN": secret.arn,
                "Name": secret.name,
                "VersionId": version,
                "SecretString": value,
                "VersionStages": list(labels),
            }

    def put_secret_value(
        self,
        *,
        SecretId: str,
        ClientRequestToken: str,
        SecretString: str,
        VersionStages: list[str] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        with self._lock:
            self._enter("put_secret_value")
            secret = self._find(SecretId, "PutSecretValue")
            stages = list(VersionStages or [CURRENT])
            if secret.values.get(ClientRequestToken) not in (None, SecretString):
                raise InvalidRequestException(
                    "You can't modify an existing version, you can only create a new version.",
                    "PutSecretValue",
                )
            secret.values[ClientRequestToken] = SecretString
            for stage in stages:
                self._label(secret, stage, ClientRequestToken)
            return {"ARN": secret.arn, "VersionId": ClientRequestToken, "VersionStages": stages}

    def _label(self, secret: _Secret, stage: str, version: str) -> None:
        old = next((v for v, s in secret.stages.items() if stage in s), None)
        if old is not None and old != version:
            secret.stages[old].remove(stage)
            if stage == CURRENT:  # as the service does: the old current becomes previous
                self._label(secret, PREVIOUS, old)
        labels = secret.stages.setdefault(version, [])
        if stage not in labels:
            labels.append(stage)

    def update_secret_version_stage(
        self,
        *,
        SecretId: str,
        VersionStage: str,
        MoveToVersionId: str | None = None,
        RemoveFromVersionId: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._enter("update_secret_version_stage")
            secret = self._find(SecretId, "UpdateSecretVersionStage")
            holder = next((v for v, s in secret.stages.items() if VersionStage in s), None)
            if holder is not None and holder != MoveToVersionId and (RemoveFromVersionId != holder):
                raise InvalidRequestException(
                    f"The staging label {VersionStage} is attached to version {holder}; "
                    "name it as RemoveFromVersionId.",
                    "UpdateSecretVersionStage",
                )
            if MoveToVersionId is not None:
                if MoveToVersionId not in secret.stages:
                    raise ResourceNotFoundException("No such version.", "UpdateSecretVersionStage")
                self._label(secret, VersionStage, MoveToVersionId)
            elif RemoveFromVersionId is not None and holder == RemoveFromVersionId:
                secret.stages[holder].remove(VersionStage)
            return {"ARN": secret.arn, "Name": secret.name}

    def rotate_secret(
        self, *, SecretId: str, ClientRequestToken: str, RotateImmediately: bool = True, **_: Any
    ) -> dict[str, Any]:
        """Starts a rotation as the service does, invoking nothing: the caller (the harness)
        plays the Lambda function."""
        with self._lock:
            self._enter("rotate_secret")
            secret = self._find(SecretId, "RotateSecret")
            current = next((v for v, s in secret.stages.items() if CURRENT in s), None)
            pending = next((v for v, s in secret.stages.items() if PENDING in s), None)
            if pending is not None and pending != current:
                raise InvalidRequestException("A previous rotation isn't complete.", "RotateSecret")
            secret.rotation_enabled = True
            # A configuration test (RotateImmediately=false) holds a copy of AWSCURRENT.
            copied = secret.values.get(current or "") if not RotateImmediately else None
            secret.values.setdefault(ClientRequestToken, copied)
            self._label(secret, PENDING, ClientRequestToken)
            return {"ARN": secret.arn, "VersionId": ClientRequestToken}

    def get_random_password(self, **policy: Any) -> dict[str, str]:
        self._enter("get_random_password")
        length = int(policy.get("PasswordLength", 32))
        alphabet = string.ascii_letters + string.digits
        return {"RandomPassword": "".join(secrets.choice(alphabet) for _ in range(length))}

    def value(self, secret_id: str, stage: str = CURRENT) -> dict[str, Any]:
        """A stage's value, for assertions."""
        text = self.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"]
        self.calls.pop()  # the test's own read is not the rotator's
        return dict(json.loads(text))


@dataclass
class MemoryDatabase:
    """A database server's accounts: passwords, the alternates' proof, and who may log in."""

    host: str = "db.internal"
    port: int = 5432
    passwords: dict[str, str] = field(default_factory=dict)
    marked: dict[str, str] = field(default_factory=dict)  # clone -> original
    admins: set[str] = field(default_factory=set)
    statements: list[str] = field(default_factory=list)

    def add(self, user: str, password: str, *, admin: bool = False) -> None:
        self.passwords[user] = password
        if admin:
            self.admins.add(user)

    def logs_in(self, user: str, password: str) -> bool:
        return self.passwords.get(user) == password


@dataclass
class _Session:
    user: str


class MemoryEngine(Engine):
    """An :class:`Engine` over a :class:`MemoryDatabase`: the contract, nothing more.
    ``fail_on`` names engine calls that raise once (before they act), for fault walks."""

    name = "memory"
    engines: ClassVar[frozenset[str]] = POSTGRES_ENGINES
    default_port = 5432
    max_username_bytes = 63

    def __init__(
        self, database: MemoryDatabase, fail_on: Callable[[str], bool] | None = None
    ) -> None:
        self.database = database
        self.fail_on = fail_on or (lambda _: False)

    def _call(self, what: str) -> None:
        if self.fail_on(what):
            raise ServiceError(f"injected: {what} failed")
        self.database.statements.append(what)

    def connect(self, login: DatabaseSecret, tls: TlsSettings) -> _Session:
        self._call("connect")
        if (login.host, login.port) != (self.database.host, self.database.port):
            raise ServiceError(f"Could not connect to {login.host}:{login.port}.")
        if not self.database.logs_in(login.username, login.password):
            raise AuthenticationFailed(f"{login.username}: credentials rejected.")
        return _Session(login.username)

    def close(self, conn: Any) -> None:
        pass

    def _admin(self, conn: _Session) -> None:
        if conn.user not in self.database.admins:
            raise ServiceError(f"'{conn.user}' may not alter other users.")

    def set_own_password(self, conn: _Session, username: str, password: str) -> None:
        self._call("set_own_password")
        if conn.user != username:
            raise ServiceError("A user may change only its own password.")
        self.database.passwords[username] = password

    def set_password(self, conn: _Session, username: str, password: str) -> None:
        self._call("set_password")
        self._admin(conn)
        if username not in self.database.passwords:
            raise ServiceError(f"User '{username}' does not exist.")
        self.database.passwords[username] = password

    def ensure_clone(self, conn: _Session, original: str, clone: str, password: str) -> None:
        self._call("ensure_clone")
        self._admin(conn)
        if original not in self.database.passwords:
            raise ServiceError(f"User '{original}' does not exist; cannot clone it.")
        if self.clone_state(conn, clone, original) is CloneState.FOREIGN:
            raise StateError(f"'{clone}' is not the alternate rotor made for '{original}'.")
        self.database.passwords[clone] = password
        self.database.marked[clone] = original

    def clone_state(self, conn: _Session, clone: str, original: str) -> CloneState:
        if clone not in self.database.passwords:
            return CloneState.MISSING
        return (
            CloneState.OURS if self.database.marked.get(clone) == original else (CloneState.FOREIGN)
        )

    def mark_clone(self, conn: _Session, clone: str, original: str) -> None:
        self._call("mark_clone")
        self._admin(conn)
        self.database.marked[clone] = original

    def check(self, conn: _Session) -> None:
        self._call("check")
