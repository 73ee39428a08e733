"""AWS clients for the rotation path: botocore directly, one session per container.

boto3 adds nothing a rotation needs but ~20 ms (compiled) of imports to every cold start, so
clients are built from a botocore session. The services listed in ``SERVICES`` are the only
ones a rotation calls; the layer ships botocore's models for these alone (pyproject.toml's
``[tool.rotor] aws-services``, checked by a test), so a new service must be added to both.
"""

from __future__ import annotations

import threading
from typing import Any

from rotor.observability import silence_sdk_debug_logs

SERVICES = ("secretsmanager", "rds", "events")

_session: Any = None
_lock = threading.Lock()


def client(service: str, **config: Any) -> Any:
    """A new client for ``service`` (``config``: botocore ``Config`` options; ``region_name``
    and ``endpoint_url`` are passed through). Callers keep the client they get."""
    if service not in SERVICES:
        raise ValueError(f"{service} is not in rotor.aws.SERVICES: add it there and to "
                         "[tool.rotor] aws-services in pyproject.toml, so the layer ships it.")
    global _session
    from botocore.config import Config

    region = config.pop("region_name", None)
    endpoint = config.pop("endpoint_url", None)
    with _lock:  # botocore sessions are not safe to share while creating clients
        if _session is None:
            import botocore.session

            silence_sdk_debug_logs()
            _session = botocore.session.get_session()
        return _session.create_client(service, region_name=region, endpoint_url=endpoint,
                                      config=Config(**config) if config else None)


def reset() -> None:
    """Forget the session (its resolved credentials): for a harness that changes account."""
    global _session
    with _lock:
        _session = None
