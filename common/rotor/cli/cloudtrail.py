"""Failed rotations as CloudTrail records them: ``RotationFailed`` events of
secretsmanager.amazonaws.com (LookupEvents, management events of the last 90 days at most).

Reading them needs ``cloudtrail:LookupEvents``, which an operator may not have, and an endpoint
that serves it (moto does not): then the failures are unknown, with the reason, and never a
failure of the command. The event's secret is its ``additionalEventData.SecretId`` (an ARN), or
else one of its resources.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EVENT = "RotationFailed"
SOURCE = "secretsmanager.amazonaws.com"
MAX_PAGES = 20  # 1,000 events: LookupEvents allows 2 calls a second per account and region


@dataclass(frozen=True)
class Failures:
    newest: Mapping[str, datetime] = field(default_factory=dict)  # secret ARN or name -> time
    unavailable: str | None = None  # why they could not be read
    truncated: bool = False  # more events than MAX_PAGES pages: the oldest were not read

    def last_for(self, arn: str, name: str) -> datetime | None:
        found = [t for t in (self.newest.get(arn), self.newest.get(name)) if t is not None]
        return max(found) if found else None


def rotation_failures(client: Any, since: datetime) -> Failures:
    """The newest RotationFailed per secret since ``since``, or why it is unknown."""
    from botocore.exceptions import BotoCoreError, ClientError

    newest: dict[str, datetime] = {}
    pages = client.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": EVENT}],
        StartTime=since,
    )
    try:
        for count, page in enumerate(pages, start=1):
            for event in page.get("Events", []):
                for secret in _secrets_of(event):
                    when = event["EventTime"]
                    if secret not in newest or newest[secret] < when:
                        newest[secret] = when
            if count >= MAX_PAGES and page.get("NextToken"):
                return Failures(newest, truncated=True)
    except ClientError as exc:
        return Failures(unavailable=_reason(exc))
    except BotoCoreError as exc:
        return Failures(unavailable=f"{type(exc).__name__}: {exc}")
    return Failures(newest)


def _secrets_of(event: Mapping[str, Any]) -> Iterator[str]:
    try:
        detail = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        detail = {}
    if detail.get("eventSource", event.get("EventSource", SOURCE)) != SOURCE:
        return
    extra = detail.get("additionalEventData") or {}
    named = extra.get("SecretId") or (detail.get("requestParameters") or {}).get("secretId")
    if named:
        yield str(named)
        return
    yield from _resource_names(event.get("Resources") or [])


def _resource_names(resources: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for resource in resources:
        if resource.get("ResourceName"):
            yield str(resource["ResourceName"])


def _reason(exc: Any) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "error")
    message = " ".join(str(error.get("Message") or "").split())
    if code in {"AccessDenied", "AccessDeniedException"}:
        return f"{code}: this identity may not call cloudtrail:LookupEvents"
    if message.startswith("<") or not message:  # an HTML error page: not CloudTrail
        return f"LookupEvents answered {code}: this endpoint does not serve CloudTrail"
    return f"{code}: {message}"
