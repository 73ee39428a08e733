"""`rotor new NAME` (rotor.local.scaffold.create): a package whose generated test passes the
kit's structural checks as written, and asks for the service-specific parts by name."""

from __future__ import annotations

import pytest
from rotor.local.scaffold import ScaffoldError, create

from tests.deploy import cfn

NAME = "widget-tokens"


@pytest.fixture
def package(pytester):
    written = create(NAME, pytester.path)
    return pytester.path / "widget_tokens", written


def test_writes_the_package_it_describes(package):
    root, written = package
    assert sorted(p.relative_to(root).as_posix() for p in written) == [
        "README.md",
        "rotator/app.py",
        "rotator/requirements.txt",
        "template.yaml",
        "tests/test_widget_tokens.py",
    ]
    app = (root / "rotator" / "app.py").read_text()
    assert "class WidgetTokens(Rotator):" in app and 'name = "widget-tokens"' in app
    assert "{{" not in "".join(p.read_text() for p in written)


def test_generated_tests_pass_the_structure_and_ask_for_the_service(pytester, package):
    root, _ = package
    result = pytester.runpytest_subprocess(str(root / "tests"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E * NotImplementedError: TODO: write new_secret() in tests/test_widget_tokens.py",
            "FAILED *::test_rotation - NotImplemen*",
        ]
    )


def test_generated_code_is_clean_and_its_template_valid(package):
    root, _ = package
    lint = cfn.run(
        [
            cfn.venv_tool("ruff"),
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            "E,F,W,I,B,UP",
            str(root),
        ]
    )
    assert lint.returncode == 0, lint.stdout
    template = cfn.run([cfn.venv_tool("cfn-lint"), str(root / "template.yaml")], timeout=300)
    assert template.returncode == 0, template.stdout + template.stderr


@pytest.mark.parametrize(
    "name",
    [
        "Widget",
        "1widget",
        "widget--tokens",
        "widget tokens",
        "widget-",
        "a" * 41,
        "class",
        "widget/../x",
    ],
)
def test_unusable_names_are_refused_in_one_line(tmp_path, name):
    with pytest.raises(ScaffoldError) as refused:
        create(name, tmp_path)
    assert "\n" not in str(refused.value) and repr(name) in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_package_is_never_overwritten(tmp_path):
    (tmp_path / "widget_tokens").mkdir()
    (tmp_path / "widget_tokens" / "app.py").write_text("mine")
    with pytest.raises(ScaffoldError, match="already exists and is not empty"):
        create(NAME, tmp_path)
    assert (tmp_path / "widget_tokens" / "app.py").read_text() == "mine"
