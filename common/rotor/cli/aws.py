"""AWS clients from the options the AWS CLI uses (``--endpoint-url``, ``--region``,
``--profile``), resolved as the AWS CLI resolves them, so a profile, region or endpoint that
works there works here.

``--endpoint-url`` falls back to ``SECRETS_MANAGER_ENDPOINT`` (what rotor's functions read),
then to botocore's own settings (``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_ENDPOINT_URL``,
the profile's ``endpoint_url``). Commands of the local harness accept only an endpoint on this
machine. With an endpoint on this machine (moto), the region defaults to us-east-1.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rotor.cli.errors import CliError, Exit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOCAL_REGION = "us-east-1"


@dataclass
class Aws:
    endpoint_url: str | None
    region: str | None
    profile: str | None
    resolved_endpoint: str | None = None
    resolved_region: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Aws:
        endpoint = args.endpoint_url or os.environ.get("SECRETS_MANAGER_ENDPOINT") or None
        return cls(endpoint, args.region, args.profile)

    @property
    def target(self) -> str:
        """The endpoint or region calls go to, for messages."""
        endpoint = self.resolved_endpoint or self.endpoint_url
        if endpoint and (self.endpoint_url or self.is_local(endpoint)):
            return endpoint
        region = self.resolved_region or self.region
        return f"AWS ({region})" if region else "AWS"

    @property
    def local(self) -> bool:
        """Calls go to this machine (moto, presumably)."""
        return self.is_local(self.resolved_endpoint or self.endpoint_url or "")

    @staticmethod
    def is_local(url: str) -> bool:
        return urlsplit(url).hostname in LOOPBACK

    def client(
        self, service: str, *, local_command: str | None = None, own_endpoint: bool = False
    ) -> Any:
        """A client of ``service``. ``local_command``: the harness command asking, which may
        only talk to this machine (checked before any request is sent). ``own_endpoint``: a
        service other than Secrets Manager, at the endpoint botocore resolves for it
        (``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL``, the profile), not
        ``--endpoint-url``; when none is set and Secrets Manager is on this machine, at that
        same local endpoint, so a local run never reaches AWS."""
        import boto3
        from botocore.config import Config

        session: Any = boto3.Session(profile_name=self.profile)  # any service, by name
        default_region = LOCAL_REGION if local_command or self.local else None
        region = self.region or session.region_name or default_region
        config = Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60
        )
        endpoint = self.endpoint_url
        if own_endpoint:
            endpoint = None if _configured_endpoint(service) or not self.local else endpoint
        try:
            client = session.client(
                service, endpoint_url=endpoint, region_name=region, config=config
            )
        except ValueError as exc:  # botocore: "Invalid endpoint: ..."
            raise CliError(
                Exit.USAGE,
                f"invalid --endpoint-url {self.endpoint_url!r} ({exc}): "
                "give a URL such as http://127.0.0.1:5000",
            ) from None
        if own_endpoint:
            return client
        self.resolved_endpoint = str(client.meta.endpoint_url)
        self.resolved_region = str(client.meta.region_name)
        if local_command is not None:
            self._require_loopback(local_command)
        return client

    def _require_loopback(self, command: str) -> None:
        if self.is_local(self.resolved_endpoint or ""):
            return
        host = urlsplit(self.resolved_endpoint or "").hostname or ""
        if not self.endpoint_url and host.endswith("amazonaws.com"):
            raise CliError(
                Exit.USAGE,
                f"`rotor {command}` needs --endpoint-url (a moto server, "
                "e.g. `rotor moto-server`): the harness never calls "
                "real AWS",
            )
        raise CliError(
            Exit.USAGE,
            f"`rotor {command}` runs the local harness, which only talks "
            f"to moto on this machine ({', '.join(LOOPBACK)}), not "
            f"{host or self.resolved_endpoint}",
        )

    def handler_environment(self) -> dict[str, str]:
        """What a handler run in this process needs to use the same endpoint, region and
        profile as this client (rotor's functions read these)."""
        env = {
            "SECRETS_MANAGER_ENDPOINT": self.resolved_endpoint or "",
            "AWS_DEFAULT_REGION": self.resolved_region or LOCAL_REGION,
            "AWS_REGION": self.resolved_region or LOCAL_REGION,
        }
        if self.profile:
            env["AWS_PROFILE"] = self.profile
        return env


def _configured_endpoint(service: str) -> bool:
    """Whether the environment gives ``service`` an endpoint (botocore reads these too)."""
    own = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    return bool(os.environ.get(own) or os.environ.get("AWS_ENDPOINT_URL"))
