"""A selection means the same in every fleet command: exact prefix and tag matches (ListSecrets'
own filters are looser), named secrets must all exist, and nothing selected by accident."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import pytest
from rotor.cli.errors import CliError, Exit
from rotor.cli.selection import Selection, selection_options

pytestmark = pytest.mark.functional


def parse(*argv: str) -> Selection:
    parser = argparse.ArgumentParser(parents=[selection_options()])
    return Selection.from_args(parser.parse_args(list(argv)))


@pytest.fixture
def fleet(sm: Any) -> str:
    run = f"sel{uuid.uuid4().hex[:8]}"
    for name, tags in [
        (f"{run}/a", {"team": "pay", "env": "prod"}),
        (f"{run}/b", {"team": "pay", "env": "dev"}),
        (f"{run}-c", {"team": "search"}),
        (f"{run}x/d", {"teamx": "pay"}),
    ]:
        sm.create_secret(
            Name=name, SecretString="{}", Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
        )
    return run


def names(sm: Any, *argv: str) -> list[str]:
    return [s.name for s in parse(*argv).resolve(sm)]


def test_prefix_is_an_exact_start_of_the_name(sm: Any, fleet: str) -> None:
    assert names(sm, "--prefix", f"{fleet}/") == [f"{fleet}/a", f"{fleet}/b"]


def test_tags_are_matched_as_pairs_and_combined(sm: Any, fleet: str) -> None:
    assert names(sm, "--prefix", fleet, "--tag", "team=pay") == [f"{fleet}/a", f"{fleet}/b"]
    assert names(sm, "--prefix", fleet, "--tag", "team=pay", "--tag", "env=prod") == [f"{fleet}/a"]
    assert names(sm, "--prefix", fleet, "--tag", "team") == [
        f"{fleet}-c",
        f"{fleet}/a",
        f"{fleet}/b",
    ]


def test_named_secrets_and_a_file(sm: Any, fleet: str, tmp_path: Any) -> None:
    listing = tmp_path / "names.txt"
    listing.write_text(f"# payments\n{fleet}/b\n\n{fleet}-c  # search\n")
    assert names(sm, f"{fleet}/a", "--from-file", str(listing)) == [
        f"{fleet}-c",
        f"{fleet}/a",
        f"{fleet}/b",
    ]


def test_a_missing_name_ends_the_command_naming_all_missing(sm: Any, fleet: str) -> None:
    with pytest.raises(CliError) as raised:
        names(sm, f"{fleet}/a", f"{fleet}/nope", f"{fleet}/gone")
    assert raised.value.code == Exit.NOT_FOUND
    assert f"{fleet}/nope" in raised.value.message and f"{fleet}/gone" in raised.value.message


def test_nothing_selected_is_a_usage_error() -> None:
    with pytest.raises(CliError) as raised:
        parse()
    assert raised.value.code == Exit.USAGE and "--all" in raised.value.message
    with pytest.raises(CliError):
        parse("--tag", "=x")
