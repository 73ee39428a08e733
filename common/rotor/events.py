"""A rotation's outcome, told where a team can alarm on it: a log line, a metric, an event.

On every failed step and on every finished rotation rotor writes one structured log line
(``"Rotation step failed"`` with the error's class, whether it is permanent and its scrubbed
message; ``"Rotation succeeded"`` with the new version) and one CloudWatch metric in embedded
metric format (``RotationFailed`` with the dimensions ``rotator`` and ``error``,
``RotationSucceeded`` with ``rotator``): never the secret as a dimension, so a fleet's alarms
need one metric each.

With ``ROTOR_EVENT_BUS`` set (an EventBridge bus name or ARN), the same outcome is also put
there as a custom event (source ``rotor``, detail types ``Rotation Succeeded`` / ``Rotation
Failed``). Telling the outcome never fails a rotation: a function in a VPC without an
EventBridge endpoint logs a warning after a short timeout, and the step's own result stands.
"""

from __future__ import annotations

import json
from typing import Any

from rotor import settings
from rotor.observability import NAMESPACE, SERVICE, describe_exception, logger

SOURCE = "rotor"
_client: Any = None


def _metric(name: str, dimensions: dict[str, str]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(key, value)


def _put_event(detail_type: str, detail: dict[str, Any]) -> None:
    try:
        bus = settings.current().event_bus
    except Exception as exc:  # a bad value must not fail the rotation either
        logger.warning("Not putting the rotation event", extra={"error": describe_exception(exc)})
        return
    if not bus:
        return
    global _client
    try:
        if _client is None:
            from rotor import aws

            _client = aws.client(
                "events", connect_timeout=2, read_timeout=3, retries={"max_attempts": 1}
            )
        answer = _client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "EventBusName": bus,
                    "Detail": json.dumps(detail),
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(answer["Entries"][0].get("ErrorCode", "rejected"))
    except Exception as exc:  # the event is a courtesy: the rotation's result stands
        logger.warning(
            "Could not put the rotation event on EventBridge",
            extra={"event_bus": bus, "error": describe_exception(exc)},
        )


def _tell(outcome: str, metric: dict[str, str], detail: dict[str, Any]) -> None:
    try:
        if not settings.current().metrics_disabled:
            _metric(f"Rotation{outcome}", metric)
    except Exception as exc:
        logger.warning(
            "Could not emit the rotation metric", extra={"error": describe_exception(exc)}
        )
    _put_event(f"Rotation {outcome}", detail)


def failed(rotator: str, step: str, secret_arn: str | None, error: Exception) -> None:
    """A step failed with ``error`` (already scrubbed, and logged by the protocol)."""
    error_class = type(error).__name__
    permanent = bool(getattr(error, "permanent", False))
    _tell(
        "Failed",
        {"rotator": rotator, "error": error_class},
        {
            "rotator": rotator,
            "step": step,
            "secret_arn": secret_arn,
            "error_class": error_class,
            "permanent": permanent,
            "message": str(error),
        },
    )


def succeeded(rotator: str, secret_arn: str, version_id: str) -> None:
    """finishSecret completed: ``version_id`` is AWSCURRENT."""
    logger.info("Rotation succeeded", extra={"version_id": version_id})
    _tell(
        "Succeeded",
        {"rotator": rotator},
        {"rotator": rotator, "secret_arn": secret_arn, "version_id": version_id},
    )
