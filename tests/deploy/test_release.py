"""`make release` builds a release offline (deploy/release.py) from the session's `sam build`,
and what it writes is what users install and deploy: a wheel that installs and says its
version, the layer as Lambda takes it (no development kit, under the size limit, the same bytes
from the same files), packaged templates whose every artefact is in the release, the version's
notes, and checksums that vouch for every file."""

from __future__ import annotations

import calendar
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import pytest
from rotor._version import __version__

from deploy import release, sam_cli
from deploy.archive import SUMS, deterministic_zip, sha256, verify_sums
from deploy.changelog import notes
from tests.deploy import cfn
from tests.runtime_code import dev_modules

LAYER_LIMIT = 250 * 1024 * 1024  # unzipped function + layers
S3_KEYS = ("CodeUri", "ContentUri")


@pytest.fixture(scope="module")
def released(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release, built as `make release` does, packaging the session's `sam build`."""
    out = tmp_path_factory.mktemp("dist")
    proc = cfn.run(
        [sys.executable, "deploy/release.py", "--out", str(out), "--built", str(built)],
        timeout=sam_cli.SAM_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    directory = out / f"rotor-{__version__}"
    assert proc.stdout.strip() == f"rotor {__version__}: {directory}"
    return directory


def artefact(released: Path, pattern: str) -> Path:
    (found,) = released.glob(pattern)
    return found


def test_the_release_holds_each_artefact_once(released: Path) -> None:
    names = sorted(p.name for p in released.iterdir() if p.is_file())
    assert names == sorted(
        [
            f"rotor-{__version__}-py3-none-any.whl",
            f"rotor-{__version__}.tar.gz",
            f"rotor-layer-{__version__}-python3.13-x86_64.zip",
            *(f"{app.name}.packaged.yaml" for app in release.applications()),
            "RELEASE_NOTES.md",
            SUMS,
        ]
    )


def test_the_wheel_is_rotor_alone_at_this_version(released: Path) -> None:
    wheel = artefact(released, "*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = HeaderParser().parsestr(
            archive.read(f"rotor-{__version__}.dist-info/METADATA").decode()
        )
    assert metadata["Name"] == "rotor" and metadata["Version"] == __version__
    assert {"rotor/__init__.py", "rotor/_version.py", "rotor/py.typed"} <= set(names)
    assert {name.split("/")[0] for name in names} == {"rotor", f"rotor-{__version__}.dist-info"}
    assert not [n for n in names if "/tests/" in n or "__pycache__" in n or n.endswith(".pyc")]


def test_the_sdist_builds_the_same_package(released: Path) -> None:
    with tarfile.open(artefact(released, "*.tar.gz")) as archive:
        names = archive.getnames()
    top = f"rotor-{__version__}"
    assert {f"{top}/pyproject.toml", f"{top}/common/rotor/_version.py"} <= set(names)
    assert not [n for n in names if n.startswith(f"{top}/tests/")]


def test_the_wheel_installs_into_a_fresh_venv_and_says_its_version(
    released: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    wheel = str(artefact(released, "*.whl"))
    proc = cfn.run(
        [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel], timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = cfn.run(
        [
            python,
            "-c",
            "import rotor, importlib.metadata as m; print(rotor.__version__, "
            "m.version('rotor'), rotor.__file__)",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    code_version, metadata_version, location = proc.stdout.split()
    assert code_version == metadata_version == __version__
    assert Path(location).is_relative_to(venv)


def test_the_layer_zip_is_lambdas_shape_without_the_development_kit(released: Path) -> None:
    with zipfile.ZipFile(artefact(released, "rotor-layer-*.zip")) as archive:
        infos = archive.infolist()
    names = {info.filename for info in infos}
    assert {name.split("/")[0] for name in names} == {"python"}  # /opt/python on Lambda
    assert "python/rotor/protocol.py" in names and "python/rotor/_version.py" in names
    for module in dev_modules():
        path = "python/" + module.replace(".", "/")
        assert not [n for n in names if n == f"{path}.py" or n.startswith(f"{path}/")], module
    assert sum(info.file_size for info in infos) < LAYER_LIMIT


def test_the_layer_zip_is_the_same_bytes_from_the_same_files(
    released: Path, built: Path, tmp_path: Path
) -> None:
    shipped = artefact(released, "rotor-layer-*.zip")
    with zipfile.ZipFile(shipped) as archive:
        epoch_stamp = archive.infolist()[0].date_time
        assert {info.date_time for info in archive.infolist()} == {epoch_stamp}
    epoch = calendar.timegm((*epoch_stamp, 0, 0, 0))
    again = deterministic_zip(built / "RotorLayer", tmp_path / "again.zip", epoch)
    assert sha256(again) == sha256(shipped)


def test_the_layers_bytecode_names_the_paths_lambda_has(released: Path) -> None:
    """Compiled for /opt/python, not for the build's scratch directory: tracebacks on Lambda
    find their source, and two builds of the same files zip to the same bytes."""
    with zipfile.ZipFile(artefact(released, "rotor-layer-*.zip")) as archive:
        compiled = {n: archive.read(n) for n in archive.namelist() if n.startswith("python/rotor/")}
    sources = [n for n in compiled if n.endswith(".py")]
    assert sources
    for source in sources:
        directory, name = source.rsplit("/", 1)
        pyc = compiled[f"{directory}/__pycache__/{name[:-3]}.cpython-313.pyc"]
        assert f"/opt/{source}".encode() in pyc, source


def s3_uris(value: Any) -> list[str]:
    return [s for s in cfn.strings(value) if s.startswith("s3://")]


@pytest.mark.parametrize("app", [a.name for a in release.applications()])
def test_packaged_templates_reference_artefacts_the_release_holds(released: Path, app: str) -> None:
    packaged = cfn.load(released / f"{app}.packaged.yaml")
    source = cfn.load(next(a.template for a in release.applications() if a.name == app))
    assert packaged.get("Parameters") == source.get("Parameters")
    assert packaged["Resources"].keys() == source["Resources"].keys()
    uris = []
    for name, resource in packaged["Resources"].items():
        for key in S3_KEYS:
            if key in resource.get("Properties", {}):
                found = s3_uris(resource["Properties"][key])
                assert found, f"{name}.{key} is not packaged: {resource['Properties'][key]}"
                uris += found
    repository = packaged.get("Metadata", {}).get("AWS::ServerlessRepo::Application")
    if repository is not None:
        assert repository["SemanticVersion"] == __version__
        uris += s3_uris(repository["ReadmeUrl"])
    assert uris
    for uri in uris:
        bucket_and_key = uri.removeprefix("s3://")
        assert bucket_and_key.startswith(f"{release.OFFLINE_BUCKET}/rotor/{__version__}/{app}/")
        assert (released / "s3" / bucket_and_key).is_file(), uri


def test_the_packaged_layer_is_the_built_layer(released: Path, built: Path) -> None:
    packaged = cfn.load(released / "rotor.packaged.yaml")
    (uri,) = s3_uris(packaged["Resources"]["RotorLayer"]["Properties"]["ContentUri"])
    with zipfile.ZipFile(released / "s3" / uri.removeprefix("s3://")) as archive:
        uploaded = {n for n in archive.namelist() if not n.endswith("/")}
    local = {
        p.relative_to(built / "RotorLayer").as_posix()
        for p in (built / "RotorLayer").rglob("*")
        if p.is_file()
    }
    assert uploaded == local


def test_the_release_notes_are_the_changelog_entry(released: Path) -> None:
    assert (released / "RELEASE_NOTES.md").read_text() == notes(__version__)


def test_the_checksums_vouch_for_every_file_and_catch_a_change(
    released: Path, tmp_path: Path
) -> None:
    assert verify_sums(released) == []
    listed = [line.split("  ", 1)[1] for line in (released / SUMS).read_text().splitlines()]
    assert {p.relative_to(released).as_posix() for p in released.rglob("*") if p.is_file()} == {
        *listed,
        SUMS,
    }
    proc = cfn.run(["sha256sum", "--quiet", "-c", SUMS], cwd=released)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A copy with one byte changed, one file added: both reported.
    copy = tmp_path / "copy"
    shutil.copytree(released, copy)
    notes_file = copy / "RELEASE_NOTES.md"
    notes_file.write_text(notes_file.read_text() + " ")
    (copy / "extra.txt").write_text("x")
    assert verify_sums(copy) == ["RELEASE_NOTES.md: changed", "extra.txt: not listed"]


def test_every_application_is_packaged(tmp_path: Path) -> None:
    """template.yaml, then each apps/<name>/template.yaml, whoever adds one."""
    for path in ("template.yaml", "apps/rotation/template.yaml", "apps/audit/template.yaml"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("Resources: {}\n")
    (tmp_path / "apps" / "notes").mkdir()
    found = [
        (a.name, a.template.relative_to(tmp_path).as_posix())
        for a in release.applications(tmp_path)
    ]
    assert found == [
        ("rotor", "template.yaml"),
        ("audit", "apps/audit/template.yaml"),
        ("rotation", "apps/rotation/template.yaml"),
    ]


@pytest.mark.parametrize("app", [a.name for a in release.applications()])
def test_packaged_templates_pass_cfn_lint(released: Path, app: str) -> None:
    proc = cfn.run([cfn.venv_tool("cfn-lint"), str(released / f"{app}.packaged.yaml")], timeout=300)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


@pytest.fixture
def previous_release(tmp_path: Path) -> Path:
    """A release directory already there, which a refused or failed build must leave alone."""
    kept = tmp_path / "dist" / f"rotor-{__version__}"
    kept.mkdir(parents=True)
    (kept / "SHA256SUMS").write_text("kept\n")
    return kept


def unchanged(kept: Path) -> bool:
    siblings = sorted(p.name for p in kept.parent.iterdir())
    return siblings == [kept.name] and (kept / "SHA256SUMS").read_text() == "kept\n"


def test_a_version_without_a_changelog_entry_is_refused_before_anything(
    previous_release: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(release, "__version__", "99.0.0")
    assert release.main(["--out", str(previous_release.parent)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("deploy/release.py: CHANGELOG.md has no entry for 99.0.0: rename")
    assert unchanged(previous_release)


def test_a_missing_sam_build_is_refused_before_anything(
    previous_release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--out", str(previous_release.parent), "--built", str(tmp_path / "no-build")]
    assert release.main(args) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("no-build is no sam build (no template.yaml): run `sam build` first.")
    assert unchanged(previous_release)


def test_a_failed_build_leaves_the_previous_release_as_it_was(
    previous_release: Path, built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(out: Path, epoch: int) -> list[Path]:
        (out / "half-written.whl").write_text("")
        raise release.ReleaseError("python -m build failed")

    monkeypatch.setattr(release, "distributions", fails)
    with pytest.raises(release.ReleaseError, match="python -m build failed"):
        release.release(previous_release.parent, built)
    assert unchanged(previous_release)
