"""Small helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any


def secret_value(sm: Any, secret_id: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    """A stage's value, always naming the stage (moto's default-version trap)."""
    return json.loads(sm.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"])


def stages(sm: Any, secret_id: str) -> dict[str, list[str]]:
    meta = sm.describe_secret(SecretId=secret_id)
    return {k: sorted(v) for k, v in meta.get("VersionIdsToStages", {}).items()}


def unique_user(prefix: str = "app") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
