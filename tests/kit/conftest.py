"""RotatorChecks of rotor's shipped rotators against the suite's real servers and fake
providers (fixtures of the PostgreSQL, MySQL and API key suites, reused here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rotor.testing import RotatorCheck

from tests.apikey.conftest import quick_backoff, sendgrid, sendgrid_secret  # noqa: F401
from tests.conftest import handler
from tests.mysql.support import my_secret
from tests.pg import pg_secret
from tests.redis.test_redis_users import make_user as redis_user
from tests.redis.test_redis_users import user_secret as redis_secret

SHIPPED = (
    "postgresql_single",
    "postgresql_alternating",
    "mysql_single",
    "mysql_alternating",
    "mysql_dual",
    "redis",
    "apikey",
)


@pytest.fixture
def shipped_check(request: pytest.FixtureRequest, sm: Any) -> Callable[..., RotatorCheck]:
    """``shipped_check(rotator, **options)``: a RotatorCheck of rotators/<rotator>/app.py (or
    of ``handler=``) with fresh secrets whose credentials work, judged by real logins (or by
    the fake provider's key check)."""

    def database(
        server: Any,
        make: Callable[..., tuple[str, str]],
        shape: Callable[..., Any],
        admin: str | None,
    ) -> dict[str, Any]:
        def fresh() -> dict[str, Any]:
            extra = {"masterarn": admin} if admin else {}
            return shape(server, *make(server), **extra)

        return {
            "new_secret": fresh,
            "works": lambda v: server.logs_in(v["username"], v["password"]),
        }

    def make(rotator: str, **options: Any) -> RotatorCheck:
        family, strategy = rotator.partition("_")[::2]
        fixture = request.getfixturevalue
        if family == "postgresql":
            admin = fixture("admin_arn") if strategy == "alternating" else None
            wiring = database(fixture("pg"), fixture("make_role"), pg_secret, admin)
        elif family == "mysql":
            admin = fixture("mdb_admin_arn") if strategy in ("alternating", "dual") else None
            wiring = database(fixture("mdb"), fixture("make_user"), my_secret, admin)
        elif family == "redis":
            server = fixture("rotor_redis")
            admin = fixture("new_secret")(server.admin_secret())
            wiring = database(
                server,
                redis_user,
                lambda srv, user, password, masterarn: redis_secret(srv, user, password, masterarn),
                admin,
            )
        else:
            api, secret = fixture("sendgrid"), fixture("sendgrid_secret")
            api.max_keys = 10_000  # every secret of the check shares one account of the fake
            wiring = {
                "new_secret": lambda: secret().arn,
                "works": lambda v: api.works(v["api_key"]),
                "credential_key": "api_key",
            }
        window = {"window_allowed": True} if strategy == "single" else {}
        real = options.pop("handler", None) or handler(rotator)
        return RotatorCheck(sm, real, **{**wiring, **window, **options})

    return make
