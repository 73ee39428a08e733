"""The handlers exactly as template.yaml names them (CodeUri + Handler) rotate a secret through
the local harness, so a renamed file, module or function cannot deploy unnoticed."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rotor.local.harness import Handler, load_handler

from tests.deploy import cfn
from tests.helpers import secret_value, unique_user

FUNCTION = "AWS::Serverless::Function"
TEMPLATE = cfn.load()
FUNCTIONS = {k: v for k, v in TEMPLATE["Resources"].items() if v["Type"] == FUNCTION}


def handler_file(function: dict[str, Any]) -> tuple[Path, str]:
    """rotators/<dir>/<module>.py and the attribute, from CodeUri and Handler as Lambda reads
    them (CodeUri is the task root; Handler is <module path>.<function>)."""
    props = {**TEMPLATE["Globals"]["Function"], **function["Properties"]}
    module, attr = props["Handler"].rsplit(".", 1)
    return cfn.ROOT / props["CodeUri"] / (module.replace(".", "/") + ".py"), attr


def rotator_dir(name: str) -> str:
    return Path(FUNCTIONS[name]["Properties"]["CodeUri"]).name


# --- secrets for each rotator: (arn, check after rotation) ---------------------------------
@dataclass
class Case:
    arn: str
    works: Callable[[dict[str, Any]], bool]  # does this AWSCURRENT value authenticate?


def _password() -> str:
    return secrets.token_urlsafe(18)


def _postgres(request: pytest.FixtureRequest, alternating: bool) -> Case:
    pg = request.getfixturevalue("pg")
    new_secret = request.getfixturevalue("new_secret")
    from psycopg import sql

    user, password = unique_user("deploy"), _password()
    with pg.connect() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
    value: dict[str, Any] = {
        "engine": "postgres",
        "host": pg.host,
        "port": pg.port,
        "username": user,
        "password": password,
        "dbname": "postgres",
        "ssl": False,
    }
    if alternating:
        value["masterarn"] = new_secret(pg.admin_secret())

    def works(current: dict[str, Any]) -> bool:
        pg.connect(current["username"], current["password"]).close()
        return current["password"] != password

    return Case(new_secret(value), works)


def _mariadb(request: pytest.FixtureRequest, alternating: bool) -> Case:
    server = request.getfixturevalue("mdb")
    new_secret = request.getfixturevalue("new_secret")
    user, password = unique_user("deploy"), _password()
    with server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
    value: dict[str, Any] = {
        "engine": "mariadb",
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": password,
        "ssl": False,
    }
    if alternating:
        value["masterarn"] = new_secret(server.admin_secret())

    def works(current: dict[str, Any]) -> bool:
        server.connect(current["username"], current["password"]).close()
        return current["password"] != password

    return Case(new_secret(value), works)


def _apikey(request: pytest.FixtureRequest) -> Case:
    api = request.getfixturevalue("deploy_sendgrid")
    new_secret = request.getfixturevalue("new_secret")
    from rotor.local.fakeproviders import SENDGRID_ADMIN_SCOPES

    admin = api.add_key("rotor-admin", scopes=SENDGRID_ADMIN_SCOPES)
    initial = api.add_key("deploy-initial", scopes=["mail.send"])
    value = {
        "provider": "sendgrid",
        "api_key": initial.secret,
        "key_id": initial.key_id,
        "adminarn": new_secret(
            {"provider": "sendgrid", "api_key": admin.secret, "base_url": api.base_url}
        ),
        "scopes": ["mail.send"],
    }

    def works(current: dict[str, Any]) -> bool:
        return bool(api.works(current["api_key"])) and current["api_key"] != initial.secret

    return Case(new_secret(value), works)


def _redis(request: pytest.FixtureRequest) -> Case:
    import hashlib

    server = request.getfixturevalue("rotor_redis")
    new_secret = request.getfixturevalue("new_secret")
    user, password = unique_user("deploy"), _password()
    with server.connect() as admin:
        admin.execute_command(
            "ACL",
            "SETUSER",
            user,
            "on",
            f"#{hashlib.sha256(password.encode()).hexdigest()}",
            "+ping",
        )
    value = {
        "engine": "redis",
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": password,
        "ssl": False,
        "masterarn": new_secret(server.admin_secret()),
    }

    def works(current: dict[str, Any]) -> bool:
        return bool(server.logs_in(user, current["password"])) and current["password"] != password

    return Case(new_secret(value), works)


RECIPES: dict[str, Callable[[pytest.FixtureRequest], Case]] = {
    "postgresql_single": lambda r: _postgres(r, alternating=False),
    "postgresql_alternating": lambda r: _postgres(r, alternating=True),
    "mysql_single": lambda r: _mariadb(r, alternating=False),
    "mysql_alternating": lambda r: _mariadb(r, alternating=True),
    "mysql_dual": lambda r: _mariadb(r, alternating=True),  # an admin too: masterarn
    "redis": _redis,
    "apikey": _apikey,
}


@pytest.fixture
def deploy_sendgrid() -> Iterator[Any]:
    from rotor.local.fakeproviders import FakeSendGrid

    with FakeSendGrid() as api:
        yield api


# --- the checks -----------------------------------------------------------------------------
def test_every_function_names_an_existing_handler() -> None:
    assert FUNCTIONS
    for name, function in FUNCTIONS.items():
        path, attr = handler_file(function)
        assert path.is_file(), f"{name}: {path} (CodeUri + Handler) does not exist"
        handler = load_handler(f"{path}:{attr}")
        assert callable(handler), name


def test_every_rotator_in_the_repository_is_deployed() -> None:
    in_repo = {p.parent.name for p in (cfn.ROOT / "rotators").glob("*/app.py")}
    assert in_repo == {rotator_dir(name) for name in FUNCTIONS}


def test_recipes_cover_every_function() -> None:
    assert {rotator_dir(name) for name in FUNCTIONS} <= set(RECIPES)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_template_handler_rotates_a_secret(
    name: str, request: pytest.FixtureRequest, harness: Callable[..., Any], sm: Any
) -> None:
    recipe = RECIPES.get(rotator_dir(name))
    if recipe is None:
        pytest.skip(f"no local rotation recipe for {rotator_dir(name)} yet")
    path, attr = handler_file(FUNCTIONS[name])
    handler: Handler = load_handler(f"{path}:{attr}")
    case = recipe(request)
    report = harness(handler).rotate(case.arn)
    errors = [s.error for s in report.steps if s.error]
    assert report.succeeded, json.dumps(errors)
    assert report.attempts == 1, errors
    assert case.works(secret_value(sm, case.arn))
