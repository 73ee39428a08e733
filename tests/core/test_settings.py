"""rotor.settings: the one module that reads the environment, its parsing and validation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from rotor import settings
from rotor.errors import ConfigurationError
from rotor.settings import TABLE, Settings

from tests.runtime_code import PACKAGE, ROOT, runtime_files

# Reading or changing the process environment through the os module.
ENV_ACCESS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
# Strings shaped like the names of rotor's settings (and the Powertools/X-Ray ones it reads).
ENV_NAME = re.compile(
    r"\b(?:ROTOR|PASSWORD|EXCLUDE|REQUIRE|SECRETS_MANAGER|POWERTOOLS|AWS_XRAY)"
    r"_[A-Z0-9_]*[A-Z0-9]\b(?![_*])"
)


def environment_access(source: str) -> list[str]:
    """Where ``source`` touches the environment through ``os`` (any alias, ``from os
    import``)."""
    tree = ast.parse(source)
    os_names = {"os"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [
                f"line {node.lineno}: from os import {a.name}"
                for a in node.names
                if a.name in ENV_ACCESS
            ]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_ACCESS
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def runtime_sources() -> dict[str, Path]:
    """What a deployed function runs: rotor's runtime modules and the rotators' handlers (the
    development kit, which sets up environments for the harness, never ships)."""
    files = {f"rotor/{f}": PACKAGE / f for f in runtime_files() if f.suffix == ".py"}
    files.update({str(p.relative_to(ROOT)): p for p in ROOT.glob("rotators/*/app.py")})
    return files


def test_only_the_settings_module_reads_the_environment() -> None:
    sources = runtime_sources()
    assert "rotor/settings.py" in sources and "rotators/apikey/app.py" in sources
    found = {
        name: hits
        for name, path in sources.items()
        if name != "rotor/settings.py"
        if (hits := environment_access(path.read_text()))
    }
    assert found == {}, "read the variable through rotor.settings (add it to its table)"
    assert environment_access((PACKAGE / "settings.py").read_text())


def test_the_scan_finds_every_form() -> None:
    source = (
        "import os\nimport os as system\nfrom os import getenv, path\n"
        "a = os.environ['X']\nb = system.getenv('Y')\nos.putenv('Z', '1')\n"
    )
    assert len(environment_access(source)) == 4
    assert environment_access("import os\nos.path.isfile('x')\n") == []


def test_every_setting_named_in_the_code_is_in_the_table() -> None:
    table = {var.name for var in TABLE}
    named = set()
    for path in runtime_sources().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named |= set(ENV_NAME.findall(node.value))
    assert {"PASSWORD_LENGTH", "ROTOR_CA_BUNDLE", "SECRETS_MANAGER_ENDPOINT"} <= named
    assert sorted(named - table) == []


def test_table_rows_are_complete() -> None:
    names = [var.name for var in TABLE]
    assert len(names) == len(set(names))
    parameters = [var.parameter for var in TABLE if var.parameter]
    assert len(parameters) == len(set(parameters))
    for var in TABLE:
        assert var.topic in settings.TOPICS, var.name
        assert var.meaning.endswith("."), var.name
        assert var.kind.describe() and var.kind.default_doc(), var.name


# --- parsing --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, value",
    [
        ("true", True),
        ("TRUE", True),
        (" 1 ", True),
        ("yes", True),
        ("Yes", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("", False),
        ("  ", False),
        (None, False),
    ],
)
def test_flags_accept_the_samples_spellings(raw: str | None, value: bool) -> None:
    env = {} if raw is None else {"EXCLUDE_NUMBERS": raw}
    assert Settings(env).exclude_numbers is value


def test_a_flag_defaults_to_its_table_value() -> None:
    assert Settings({}).require_each_included_type is True
    assert Settings({"REQUIRE_EACH_INCLUDED_TYPE": ""}).require_each_included_type is True


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"EXCLUDE_UPPERCASE": "maybe"}, "EXCLUDE_UPPERCASE must be 'true' or 'false'"),
        ({"PASSWORD_LENGTH": "12.5"}, "PASSWORD_LENGTH must be a whole number between 4 and 4096"),
        ({"PASSWORD_LENGTH": "²"}, "PASSWORD_LENGTH must be a whole number"),
        ({"PASSWORD_SOURCE": "dice"}, "PASSWORD_SOURCE must be 'local' or 'secretsmanager'"),
        (
            {"ROTOR_MYSQL_MAX_USERNAME": "0"},
            "ROTOR_MYSQL_MAX_USERNAME must be a whole number of at least 1",
        ),
        ({"ROTOR_HTTP_TIMEOUT": "soon"}, "ROTOR_HTTP_TIMEOUT must be a number from 0.1 to 120"),
        ({"ROTOR_HTTP_TIMEOUT": "nan"}, "ROTOR_HTTP_TIMEOUT must be a number"),
        (
            {"ROTOR_HTTP_ATTEMPTS": "2.5"},
            "ROTOR_HTTP_ATTEMPTS must be a whole number between 1 and 10",
        ),
        ({"ROTOR_HTTP_MAX_WAIT": "301"}, "ROTOR_HTTP_MAX_WAIT must be a number from 0 to 300"),
        (
            {"SECRETS_MANAGER_ENDPOINT": "vpce-0123.example.com"},
            "SECRETS_MANAGER_ENDPOINT must be a URL (https:// when deployed) such as https://",
        ),
        ({"POWERTOOLS_TRACE_DISABLED": "sometimes"}, "POWERTOOLS_TRACE_DISABLED must be 'true'"),
    ],
)
def test_invalid_values_name_the_variable_and_the_fix(env: dict[str, str], fragment: str) -> None:
    (name,) = env
    var = next(v for v in TABLE if v.name == name)
    with pytest.raises(ConfigurationError, match=re.escape(fragment)) as raised:
        getattr(Settings(env), var.attribute)
    assert "set it" in str(raised.value)


def test_values_are_parsed_to_their_types() -> None:
    given = Settings(
        {
            "PASSWORD_LENGTH": " 64 ",
            "PASSWORD_SOURCE": "SecretsManager",
            "ROTOR_HTTP_BACKOFF": "0.25",
            "ROTOR_HTTP_ATTEMPTS": "3",
            "ROTOR_MYSQL_MAX_USERNAME": "16",
            "EXCLUDE_CHARACTERS": "",
            "SECRETS_MANAGER_ENDPOINT": "http://127.0.0.1:5000",
            "AWS_XRAY_DAEMON_ADDRESS": " ",
        }
    )
    assert given.password_length == 64
    assert given.password_source == "secretsmanager"
    assert (given.http_backoff, given.http_attempts) == (0.25, 3)
    assert given.mysql_max_username == 16
    assert given.exclude_characters == ""  # set but empty: exclude nothing, as the samples do
    assert given.secrets_manager_endpoint == "http://127.0.0.1:5000"
    assert given.xray_daemon_address is None
    unset = Settings({})
    assert unset.mysql_max_username is None and unset.ca_bundle is None
    assert unset.secrets_manager_endpoint is None
    assert unset.exclude_characters == "/@\"'\\"


def test_each_variable_fails_only_where_it_is_read() -> None:
    """A bad API-key setting does not stop a database rotator from making passwords."""
    given = Settings({"ROTOR_HTTP_TIMEOUT": "soon", "PASSWORD_LENGTH": "40"})
    assert given.password_length == 40
    with pytest.raises(ConfigurationError, match="ROTOR_HTTP_TIMEOUT"):
        _ = given.http_timeout


def test_ca_bundle_must_be_a_file(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings({"ROTOR_CA_BUNDLE": str(bundle)}).ca_bundle == str(bundle)
    with pytest.raises(ConfigurationError, match=r"ROTOR_CA_BUNDLE names .*, which is not a file"):
        _ = Settings({"ROTOR_CA_BUNDLE": str(tmp_path / "missing.pem")}).ca_bundle


# --- when the environment is read -----------------------------------------------------------
def test_current_is_parsed_once_while_the_environment_stays(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(bundle))
    first = settings.current()
    assert first.ca_bundle == str(bundle)
    bundle.unlink()  # checked when parsed, not again: Lambda's environment does not change
    assert settings.current() is first
    assert settings.current().ca_bundle == str(bundle)


def test_current_follows_a_changed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness, the CLI and tests change os.environ in a running process; no reload."""
    monkeypatch.setenv("PASSWORD_LENGTH", "48")
    assert settings.current().password_length == 48
    monkeypatch.setenv("PASSWORD_LENGTH", "50")
    assert settings.current().password_length == 50
    monkeypatch.delenv("PASSWORD_LENGTH")
    assert settings.current().password_length == 32
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert settings.current() is settings.current()


def test_readme_settings_table_is_current() -> None:
    from deploy import docs

    readme = (ROOT / "README.md").read_text()
    assert docs.BEGIN.format(name="settings") in readme
    assert docs.fill(readme, "README.md") == readme, (
        "README.md's settings table is stale: run `make template`"
    )
    for var in TABLE:
        assert f"`{var.name}`" in readme, var.name
