"""The preflight runner: order, prerequisites, skips, and reasons on one scrubbed line."""

from __future__ import annotations

import pytest
from rotor import preflight
from rotor.errors import EventError, SecretFormatError
from rotor.observability import MASK, redactor
from rotor.preflight import Check, Skipped, Status


def fails(message: str) -> str:
    raise SecretFormatError(message)


def skips() -> str:
    raise Skipped("does not apply here")


def test_checks_run_in_order_and_a_failed_need_skips_what_needs_it() -> None:
    results = preflight.run(
        [
            Check("a", lambda: "fine"),
            Check("b", lambda: fails("key 'x' is missing;\n add it")),
            Check("c", lambda: "never run", ("b",)),
            Check("d", skips),
            Check("e", lambda: "ran", ("a",)),
            Check("f", lambda: "never run", ("d",)),
        ]
    )
    assert [(r.check, r.status) for r in results] == [
        ("a", Status.PASS),
        ("b", Status.FAIL),
        ("c", Status.SKIPPED),
        ("d", Status.SKIPPED),
        ("e", Status.PASS),
        ("f", Status.SKIPPED),
    ]
    assert results[1].reason == "key 'x' is missing; add it"  # one line, no class name
    assert results[2].reason == "needs 'b' to pass first"


def test_reasons_are_scrubbed_and_unexpected_errors_named() -> None:
    value = "s3cr3t-value-for-the-runner"
    redactor.register(value)

    def leaks() -> str:
        raise KeyError(f"no {value}")

    [result] = preflight.run([Check("leaky", leaks)])
    assert result.status is Status.FAIL and value not in result.reason
    assert MASK in result.reason and "KeyError" in result.reason


def test_a_check_event_is_only_a_check() -> None:
    assert preflight.secret_id_of({"RotorCheck": {"SecretId": "app/db"}}) == "app/db"
    for event in (
        {"RotorCheck": {"SecretId": "app/db"}, "ClientRequestToken": "t" * 32},
        {"RotorCheck": "app/db"},
        {"RotorCheck": {"SecretId": ""}},
    ):
        with pytest.raises(EventError):
            preflight.secret_id_of(event)
