"""Fixtures of the fleet commands' tests: a real endpoint in front of moto for what moto
cannot show (CloudTrail, AWS's own answers), and running `rotor` against moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.core.cli_support import Ran, run
from tests.ops.aws_endpoint import Endpoint, serving


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> Iterator[Endpoint]:
    with serving(moto_endpoint) as endpoint:
        yield endpoint


@pytest.fixture
def cloudtrail(aws_endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> Endpoint:
    """CloudTrail at its own endpoint (AWS_ENDPOINT_URL_CLOUDTRAIL), as botocore reads it;
    no RotationFailed events until a test adds them."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", aws_endpoint.url)
    aws_endpoint.answer("LookupEvents", {"Events": []})
    return aws_endpoint


@pytest.fixture
def rotor(capsys: pytest.CaptureFixture[str], moto_endpoint: str) -> Callable[..., Ran]:
    """`rotor ARGS --endpoint-url <moto>` in this process."""

    def call(*args: str, endpoint: str | None = None) -> Ran:
        return run(capsys, *args, "--endpoint-url", endpoint or moto_endpoint)

    return call
