"""Which release ran a step is in every log line a rotation writes (``rotor_version``), so the
logs of a fleet being upgraded, or rolled back, say which code acted (docs/upgrading.md)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from rotor._version import __version__
from rotor.observability import logger

from tests.pg import pg_secret


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What rotor's logger writes, formatted as Lambda ships it to CloudWatch (its own
    Powertools formatter), one JSON document a line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_every_log_line_of_a_rotation_carries_the_version(
    harness, new_secret, pg, make_role, log_lines
) -> None:
    user, password = make_role(pg)
    good = new_secret(pg_secret(pg, user, password))
    broken = new_secret(pg_secret(pg, user, "not-the-password"))
    assert harness("postgresql_single", attempts=1).rotate(good).succeeded
    assert not harness("postgresql_single", attempts=1).rotate(broken).succeeded
    lines: list[dict[str, Any]] = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    messages = {line["message"] for line in lines}
    assert {"Step completed", "Rotation step failed"} <= messages, messages
    assert {line.get("rotor_version") for line in lines} == {__version__}
    # The per-step keys came and went around the version, which stayed.
    assert {line.get("rotator") for line in lines} == {"postgresql-single"}
