"""AWS clients for the rotation path: botocore directly, one session per container.

boto3 adds nothing a rotation needs but ~20 ms (compiled) of imports to every cold start, so
clients are built from a botocore session. The services listed in ``SERVICES`` are the only
ones rotor's code calls; the layer ships botocore's models for these alone (pyproject.toml's
``[tool.rotor] aws-services``, checked by a test), so a new service must be added to both. A
custom rotator calling another service (with boto3 or this module) needs a layer built with it.
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
    global _session
    from botocore.config import Config
    from botocore.exceptions import UnknownServiceError

    region = config.pop("region_name", None)
    endpoint = config.pop("endpoint_url", None)
    with _lock:  # botocore sessions are not safe to share while creating clients
        if _session is None:
            import botocore.session

            silence_sdk_debug_logs()
            _session = botocore.session.get_session()
        try:
            return _session.create_client(
                service,
                region_name=region,
                endpoint_url=endpoint,
                config=Config(**config) if config else None,
            )
        except UnknownServiceError:
            raise UnknownServiceError(
                service_name=service,
                known_service_names=", ".join(SERVICES)
                + " (rotor's layer ships these models only: rebuild it with this service in "
                "[tool.rotor] aws-services, or run `AWS_SERVICES=<name> sam build`)",
            ) from None


def reset() -> None:
    """Forget the session (its resolved credentials): for a harness that changes account."""
    global _session
    with _lock:
        _session = None
