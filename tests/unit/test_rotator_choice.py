"""Which rotator a fleet command picks for a secret: option, then tag, then the value."""

from __future__ import annotations

import pytest
from rotor.cli.rotator_choice import ROTATOR_TAG, NoRotator, rotator_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"engine": "postgres"}, "postgresql-single"),
        ({"engine": "aurora-postgresql", "masterarn": "arn:x"}, "postgresql-alternating"),
        ({"engine": "MariaDB"}, "mysql-single"),
        ({"engine": "mysql", "masterarn": "arn:x"}, "mysql-alternating"),
        ({"engine": "valkey", "masterarn": "arn:x"}, "redis"),
        ({"provider": "sendgrid", "api_key": "k"}, "apikey"),
    ],
)
def test_the_value_names_the_rotator(value, expected):
    assert rotator_for(value, {}) == expected


def test_option_then_tag_win_over_the_value():
    value = {"engine": "mysql", "masterarn": "arn:x"}
    assert rotator_for(value, {ROTATOR_TAG: "mysql_dual"}) == "mysql-dual"
    assert rotator_for(value, {ROTATOR_TAG: "mysql-dual"}, given="Mysql_Single") == "mysql-single"


@pytest.mark.parametrize("value", [{}, {"engine": "oracle"}, None])
def test_unknown_says_how_to_tell(value):
    with pytest.raises(NoRotator, match="--rotator"):
        rotator_for(value, {})
