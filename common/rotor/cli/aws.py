"""AWS clients from the options the AWS CLI uses (``--endpoint-url``, ``--region``,
``--profile``), resolved as the AWS CLI resolves them, so a profile, region or endpoint that
works there works here.

``--endpoint-url`` falls back to ``SECRETS_MANAGER_ENDPOINT`` (what rotor's functions read),
then to botocore's own settings (``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_ENDPOINT_URL``,
the profile's ``endpoint_url``). Commands of the local harness accept only an endpoint on this
machine. With an endpoint on this machine (moto), the region defaults to us-east-1.

Other services (CloudFormation, CloudTrail) use that endpoint only when it is on this machine
(moto serves them all) and their own ``AWS_ENDPOINT_URL_<SERVICE>`` is not set; otherwise
botocore resolves theirs.
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
SECRETS_MANAGER = "secretsmanager"


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
        self, service: str, *, local_command: str | None = None, max_attempts: int = 3
    ) -> Any:
        """A client of ``service``. ``local_command``: the harness command asking, which may
        only talk to this machine (checked before any request is sent). ``max_attempts``:
        botocore's retries after the first call; 0 lets the caller see every throttle."""
        import boto3
        from botocore.config import Config
        from botocore.exceptions import InvalidRegionError

        session: Any = boto3.Session(profile_name=self.profile)  # any service, by name
        default_region = LOCAL_REGION if local_command or self.local else None
        region = self.region or session.region_name or default_region
        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=60,
        )
        endpoint = (
            self.endpoint_url if service == SECRETS_MANAGER else self._shared_endpoint(service)
        )
        try:
            client = session.client(
                service, endpoint_url=endpoint, region_name=region, config=config
            )
        except InvalidRegionError:
            raise CliError(
                Exit.USAGE,
                f"invalid region {region!r} (from --region, AWS_REGION or the profile): give one "
                "such as us-east-1",
            ) from None
        except ValueError as exc:  # botocore: "Invalid endpoint: ..."
            raise CliError(
                Exit.USAGE,
                f"invalid --endpoint-url {self.endpoint_url!r} ({exc}): "
                "give a URL such as http://127.0.0.1:5000",
            ) from None
        if service == SECRETS_MANAGER:
            self.resolved_endpoint = str(client.meta.endpoint_url)
            self.resolved_region = str(client.meta.region_name)
        if local_command is not None:
            self._require_loopback(local_command)
        return client

    def _shared_endpoint(self, service: str) -> str | None:
        """Another service's endpoint: the same one only when it is on this machine (moto
        serves them all) and that service has no endpoint of its own set; a remote
        --endpoint-url (a VPC endpoint, say) is Secrets Manager's alone."""
        own = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
        if os.environ.get(own) or os.environ.get("AWS_ENDPOINT_URL"):
            return None  # botocore reads these itself
        endpoint = self.resolved_endpoint or self.endpoint_url
        return endpoint if self.is_local(endpoint or "") else None

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
