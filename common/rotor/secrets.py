"""Secrets Manager access: one lazily created client, explicit stages, immutable-version cache.

Every read names its stage (``VersionStage``) so no call depends on the "default version"
behaviour (which moto also gets wrong after a label move). A version's value never changes once
written, so values read by version id are cached for the life of the container: the four steps
of one rotation usually run in the same warm container and need only one read of each version.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rotor.errors import SecretFormatError, StateError
from rotor.observability import redactor
from rotor.settings import current as current_settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"

_client: SecretsManagerClient | None = None
_client_lock = threading.Lock()


def client() -> SecretsManagerClient:
    """The container's Secrets Manager client, created on first use (keeps cold start short)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                from rotor import aws  # deferred: botocore is the slowest import a rotator has

                _client = aws.client(
                    "secretsmanager",
                    endpoint_url=current_settings().secrets_manager_endpoint,
                    retries={"mode": "standard", "max_attempts": 5},
                    connect_timeout=5,
                    read_timeout=20,
                )
    return _client


def reset_client() -> None:
    """Forget the client and cached values (for a harness that changes endpoint or account)."""
    global _client
    from rotor import aws

    with _client_lock:
        _client = None
    aws.reset()
    _values.clear()


class _ValueCache:
    def __init__(self, limit: int = 64) -> None:
        self._data: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """A copy: a caller changing what it got must not change what the next step reads."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return copy.deepcopy(value)

    def put(self, key: tuple[str, str], value: dict[str, Any]) -> None:
        with self._lock:
            self._data[key] = copy.deepcopy(value)
            while len(self._data) > self._limit:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_values = _ValueCache()


@dataclass(frozen=True)
class SecretDescription:
    """What DescribeSecret tells a step: rotation state and which version holds which label."""

    arn: str
    name: str
    rotation_enabled: bool
    versions: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    rotation_lambda: str | None = None  # RotationLambdaARN: the function rotating it, if set

    def version_with(self, stage: str) -> str | None:
        return next((v for v, stages in self.versions.items() if stage in stages), None)

    def stages_of(self, version_id: str) -> list[str]:
        return list(self.versions.get(version_id, []))

    def finished(self, token: str) -> SecretDescription:
        """The labels once finishSecret is done: AWSCURRENT on ``token``, AWSPREVIOUS on the
        version AWSCURRENT left (as Secrets Manager moves it), no AWSPENDING on ``token``."""
        old = self.version_with(CURRENT)
        moving = old != token
        versions = {}
        for version, stages in self.versions.items():
            kept = [
                s
                for s in stages
                if not (version == token and s == PENDING)
                and not (moving and s in (CURRENT, PREVIOUS))
            ]
            if moving and version == token:
                kept.append(CURRENT)
            elif moving and version == old:
                kept.append(PREVIOUS)
            versions[version] = kept
        return dataclasses.replace(self, versions=versions)


def parse_secret_string(text: str | None, where: str) -> dict[str, Any]:
    """A SecretString as the JSON object rotor rotates; ``where`` names it in the error."""
    if text is None:
        raise SecretFormatError(f"{where} has no SecretString; rotor rotates JSON string secrets.")
    try:
        value = json.loads(text)
    except ValueError:
        raise SecretFormatError(f"{where} is not valid JSON; store a JSON object.") from None
    if not isinstance(value, dict):
        raise SecretFormatError(f"{where} is JSON but not an object; store a JSON object.")
    redactor.register_secret(value)
    return value


class SecretStore:
    """The handful of Secrets Manager calls a rotation makes."""

    def __init__(self, sm: SecretsManagerClient | None = None) -> None:
        self._sm = sm

    @property
    def sm(self) -> SecretsManagerClient:
        return self._sm if self._sm is not None else client()

    def describe(self, secret_id: str) -> SecretDescription:
        try:
            meta = self.sm.describe_secret(SecretId=secret_id)
        except self.sm.exceptions.ResourceNotFoundException:
            raise StateError(
                f"Secret {secret_id} does not exist (or this function may not describe it)."
            ) from None
        return SecretDescription(
            arn=meta["ARN"],
            name=meta["Name"],
            rotation_enabled=bool(meta.get("RotationEnabled", False)),
            versions={k: list(v) for k, v in meta.get("VersionIdsToStages", {}).items()},
            tags={t["Key"]: t["Value"] for t in meta.get("Tags", [])},
            rotation_lambda=meta.get("RotationLambdaARN") or None,
        )

    def get(self, secret_id: str, stage: str, version_id: str | None = None) -> dict[str, Any]:
        """The JSON value at ``stage`` (and ``version_id``, when known: cached)."""
        if version_id is not None:
            cached = _values.get((secret_id, version_id))
            if cached is not None:
                redactor.register_secret(cached)  # it may have left the redactor since
                return cached
        return self.read(secret_id, stage, version_id)[1]

    def read(
        self, secret_id: str, stage: str, version_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The secret's full ARN (whatever ``secret_id`` was: a name, a partial ARN) and the
        JSON value at ``stage``, read now."""
        where = f"Secret {secret_id} ({stage})"
        kwargs: dict[str, Any] = {"SecretId": secret_id, "VersionStage": stage}
        if version_id is not None:
            kwargs["VersionId"] = version_id
        response = self.sm.get_secret_value(**kwargs)
        value = parse_secret_string(response.get("SecretString"), where)
        _values.put((secret_id, response["VersionId"]), value)
        return str(response["ARN"]), value  # the cache holds its own copy

    def find(self, secret_id: str, stage: str, version_id: str) -> dict[str, Any] | None:
        """Like :meth:`get`, but ``None`` when that version has no value yet."""
        try:
            return self.get(secret_id, stage, version_id)
        except self.sm.exceptions.ResourceNotFoundException:
            return None

    def put_pending(
        self,
        secret_id: str,
        token: str,
        value: dict[str, Any],
        rotation_token: str | None = None,
    ) -> None:
        redactor.register_secret(value)
        kwargs: dict[str, Any] = {
            "SecretId": secret_id,
            "ClientRequestToken": token,
            "SecretString": json.dumps(value),
            "VersionStages": [PENDING],
        }
        if rotation_token:
            kwargs["RotationToken"] = rotation_token
        self.sm.put_secret_value(**kwargs)
        _values.put((secret_id, token), value)

    def move_stage(self, secret_id: str, stage: str, to_version: str, from_version: str) -> None:
        self.sm.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage=stage,
            MoveToVersionId=to_version,
            RemoveFromVersionId=from_version,
        )

    def remove_stage(self, secret_id: str, stage: str, from_version: str) -> None:
        self.sm.update_secret_version_stage(
            SecretId=secret_id, VersionStage=stage, RemoveFromVersionId=from_version
        )

    def random_password(self, **policy: Any) -> str:
        password = self.sm.get_random_password(**policy)["RandomPassword"]
        redactor.register(password)
        return password
