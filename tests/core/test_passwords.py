"""Password policy from AWS's sample environment variables, and both password sources."""

from __future__ import annotations

import string

import pytest
from rotor.errors import ConfigurationError
from rotor.passwords import DEFAULT_EXCLUDED, PUNCTUATION, PasswordPolicy, generate


def test_defaults_match_aws_samples():
    policy = PasswordPolicy.from_env({})
    assert policy.length == 32 and policy.exclude_characters == DEFAULT_EXCLUDED
    for _ in range(50):
        password = generate(policy)
        assert len(password) == 32 and not set(password) & set(DEFAULT_EXCLUDED)


def test_every_included_class_is_present():
    policy = PasswordPolicy.from_env({"PASSWORD_LENGTH": "4", "EXCLUDE_CHARACTERS": ""})
    for _ in range(200):
        password = generate(policy)
        assert {
            any(c in cls for c in password)
            for cls in (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION)
        } == {True}


@pytest.mark.parametrize(
    "flag, forbidden",
    [
        ("EXCLUDE_NUMBERS", string.digits),
        ("EXCLUDE_PUNCTUATION", PUNCTUATION),
        ("EXCLUDE_UPPERCASE", string.ascii_uppercase),
        ("EXCLUDE_LOWERCASE", string.ascii_lowercase),
    ],
)
def test_excluded_classes_never_appear(flag, forbidden):
    policy = PasswordPolicy.from_env({flag: "true", "PASSWORD_LENGTH": "128"})
    assert not set(generate(policy)) & set(forbidden)


def test_excluded_characters_never_appear():
    policy = PasswordPolicy.from_env({"EXCLUDE_CHARACTERS": "aeiou0123", "PASSWORD_LENGTH": "256"})
    assert not set(generate(policy)) & set("aeiou0123")


def test_each_included_type_is_not_required_when_turned_off():
    """REQUIRE_EACH_INCLUDED_TYPE=false: a password need not hold one of each class (4 random
    characters of 4 classes hold all of them 1 time in 14, so 300 that all do would mean the
    setting is ignored). Lengths under 4 are refused whatever the setting (the template's
    minimum too)."""
    with pytest.raises(ConfigurationError, match="between 4 and 4096"):
        PasswordPolicy.from_env({"PASSWORD_LENGTH": "2"})
    relaxed = {"REQUIRE_EACH_INCLUDED_TYPE": "false", "EXCLUDE_CHARACTERS": ""}
    policy = PasswordPolicy.from_env({**relaxed, "PASSWORD_LENGTH": "4"})
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION)
    samples = [generate(policy) for _ in range(300)]
    assert not all(all(set(cls) & set(sample) for cls in classes) for sample in samples)


def test_passwords_do_not_repeat():
    policy = PasswordPolicy.from_env({})
    assert len({generate(policy) for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"PASSWORD_LENGTH": "abc"}, "PASSWORD_LENGTH must be a whole number"),
        ({"PASSWORD_LENGTH": "3"}, "between 4 and 4096"),
        ({"PASSWORD_LENGTH": "5000"}, "between 4 and 4096"),
        ({"EXCLUDE_NUMBERS": "sometimes"}, "EXCLUDE_NUMBERS must be 'true' or 'false'"),
        (
            {"REQUIRE_EACH_INCLUDED_TYPE": "maybe"},
            "REQUIRE_EACH_INCLUDED_TYPE must be 'true' or 'false'",
        ),
        (
            {
                "EXCLUDE_NUMBERS": "true",
                "EXCLUDE_PUNCTUATION": "true",
                "EXCLUDE_UPPERCASE": "true",
                "EXCLUDE_LOWERCASE": "true",
            },
            "excludes every character",
        ),
    ],
)
def test_invalid_policy_is_a_configuration_error(env, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        PasswordPolicy.from_env(env)


@pytest.mark.parametrize("require_each", ["true", "false"])
def test_get_random_password_is_opt_in(
    pg, sm, harness, new_secret, make_role, monkeypatch, require_each
):
    from tests.helpers import secret_value
    from tests.pg import logs_in, pg_secret

    monkeypatch.setenv("PASSWORD_SOURCE", "secretsmanager")
    monkeypatch.setenv("PASSWORD_LENGTH", "40")
    monkeypatch.setenv("EXCLUDE_PUNCTUATION", "true")
    monkeypatch.setenv("REQUIRE_EACH_INCLUDED_TYPE", require_each)
    calls = []
    from rotor import secrets as rotor_secrets

    events = rotor_secrets.client().meta.events
    hook = "provide-client-params.secrets-manager.GetRandomPassword"

    def capture(params, **_):
        calls.append(params)

    events.register(hook, capture)
    try:
        user, old = make_role(pg)
        arn = new_secret(pg_secret(pg, user, old))
        assert harness("postgresql_single").rotate(arn).succeeded
    finally:
        events.unregister(hook, capture)
    new = secret_value(sm, arn)["password"]
    assert len(calls) == 1 and calls[0]["PasswordLength"] == 40
    assert calls[0]["ExcludePunctuation"] is True
    assert calls[0]["RequireEachIncludedType"] is (require_each == "true")
    assert len(new) == 40 and logs_in(pg, user, new)


def test_unknown_password_source_is_refused(pg, sm, harness, new_secret, make_role, monkeypatch):
    from tests.pg import pg_secret

    monkeypatch.setenv("PASSWORD_SOURCE", "dice")
    user, old = make_role(pg)
    arn = new_secret(pg_secret(pg, user, old))
    report = harness("postgresql_single", attempts=1).rotate(arn)
    assert "PASSWORD_SOURCE must be" in (report.steps[0].error or "")
