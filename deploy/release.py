"""Build a versioned release of rotor into ``dist/rotor-<version>/`` with one command.

``make release`` runs it. The directory holds everything a user or a publisher needs:

- the Python distributions (wheel and sdist), built without network (``python -m build
  --no-isolation``);
- the Lambda layer as a deterministic zip, from the layer ``sam build`` built through
  layer/Makefile (layer/build.py), for ``aws lambda publish-layer-version``;
- every SAM application (template.yaml, then each ``apps/*/template.yaml``) built and
  packaged with ``sam package``: the packaged template references its code in S3. With
  ``--s3-bucket`` that is a real bucket (a real release); without, a moto S3 on 127.0.0.1
  receives the upload, so the build needs no AWS account, and the uploaded objects are kept
  under ``s3/<bucket>/`` beside the packaged templates;
- ``RELEASE_NOTES.md``, the version's entry of CHANGELOG.md, and ``SHA256SUMS``.

Usage: ``python deploy/release.py [--out dist] [--built DIR] [--s3-bucket NAME]``
(docs/releasing.md). The version is rotor's own (common/rotor/_version.py).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make deploy/ and rotor importable
    sys.path[:0] = [str(ROOT), str(ROOT / "common")]

from rotor._version import __version__  # noqa: E402

from deploy import template  # noqa: E402
from deploy.archive import deterministic_zip, write_sums  # noqa: E402
from deploy.changelog import ChangelogError, notes  # noqa: E402

OFFLINE_BUCKET = "rotor-release-offline"
SAM_TIMEOUT = 1800  # seconds; a warm pip cache builds the layer in about 25 s


class ReleaseError(Exception):
    """The release cannot be built; the message says what to do."""


@dataclass(frozen=True)
class Application:
    """A SAM template the release packages: template.yaml is ``rotor``, ``apps/X`` is ``X``."""

    name: str
    template: Path


def applications(root: Path = ROOT) -> list[Application]:
    found = [Application("rotor", root / "template.yaml")]
    found += [Application(p.parent.name, p) for p in sorted(root.glob("apps/*/template.yaml"))]
    return found


def layer_build() -> ModuleType:
    """layer/build.py (a script beside the layer's Makefile, not a package), to reuse its
    search for the runtime's Python."""
    spec = importlib.util.spec_from_file_location("rotor_layer_build", ROOT / "layer" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool(name: str) -> str:
    """A console script of the dev extra, beside this interpreter or on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise ReleaseError(f"{name} is not installed: pip install -e '.[dev]' (or make release).")
    return found


def run(cmd: list[str], what: str, **kwargs: Any) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise ReleaseError(f"{what} failed ({' '.join(cmd[:2])}): " + " | ".join(tail))


def source_date_epoch() -> int:
    """The release commit's time (reproducible archives), else now for an uncommitted tree."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    proc = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return int(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else 0


def sam_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SAM_CLI_TELEMETRY="0", SAM_CLI_DISABLE_VERSION_CHECK="1", **extra)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


def distributions(out: Path, epoch: int) -> list[Path]:
    """The sdist, then the wheel built from it (so the sdist is proven to build, and no stale
    file of the checkout's build/ reaches the wheel), with the build tools already installed."""
    before = set(out.iterdir())
    run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out)],
        "python -m build",
        cwd=ROOT,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)},
    )
    return sorted(set(out.iterdir()) - before)


def sam_build(app: Application, build_dir: Path) -> Path:
    """``sam build`` of one application as users run it (in source, for the layer's Makefile)."""
    runtime = str(template.RUNTIME).removeprefix("python")
    python = layer_build().compiler(runtime, None)
    if python is None:
        raise ReleaseError(
            f"sam build needs python{runtime} (the functions' runtime): pyenv install {runtime}, "
            "or pass --built DIR with a sam build of template.yaml."
        )
    run(
        [
            tool("sam"),
            "build",
            "--build-in-source",
            "--template-file",
            str(app.template),
            "--build-dir",
            str(build_dir),
        ],
        f"sam build of {app.template.relative_to(ROOT)}",
        cwd=ROOT,
        env=sam_env(
            PATH=f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHON=sys.executable,  # layer/Makefile's interpreter: this one, which has pip
        ),
        timeout=SAM_TIMEOUT,
    )
    return build_dir


def sam_package(built: Path, packaged: Path, bucket: str, prefix: str, env: dict[str, str]) -> None:
    run(
        [
            tool("sam"),
            "package",
            "--template-file",
            str(built / "template.yaml"),
            "--s3-bucket",
            bucket,
            "--s3-prefix",
            prefix,
            "--output-template-file",
            str(packaged),
            "--no-progressbar",
        ],
        f"sam package of {packaged.name}",
        cwd=built,
        env=env,
        timeout=SAM_TIMEOUT,
    )


@contextlib.contextmanager
def offline_s3() -> Iterator[tuple[dict[str, str], Any]]:
    """A moto S3 on 127.0.0.1 with the offline bucket, and the environment that points the SAM
    CLI at it (boto3 honours AWS_ENDPOINT_URL_S3); credentials are moto's stand-ins."""
    import boto3
    from rotor.local.moto import LocalMoto  # the dev kit: only an offline release needs it

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    with LocalMoto() as moto:
        env = sam_env(
            AWS_ENDPOINT_URL_S3=moto.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
        for unset in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            env.pop(unset, None)
        s3 = boto3.client(
            "s3",
            endpoint_url=moto.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=OFFLINE_BUCKET)
        yield env, s3


def download_bucket(s3: Any, bucket: str, into: Path) -> None:
    """Every object of the offline bucket, under ``into/<bucket>/<key>``."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    for page in pages:
        for item in page.get("Contents", []):
            target = into / bucket / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))


def layer_zip(built: Path, out: Path, epoch: int) -> Path:
    """The layer ``sam build`` made (layer/build.py through layer/Makefile), zipped as Lambda
    wants it (``python/`` at the top)."""
    layer = built / "RotorLayer"
    if not (layer / "python" / "rotor").is_dir():
        raise ReleaseError(f"{built} holds no built RotorLayer: pass a sam build of template.yaml.")
    name = f"rotor-layer-{__version__}-{template.RUNTIME}-{template.ARCHITECTURE}.zip"
    return deterministic_zip(layer, out / name, epoch)


def release(
    out_root: Path, built: Path | None = None, bucket: str | None = None, prefix: str = ""
) -> Path:
    """Build the release of this checkout's version; return its directory. It is built beside
    and renamed into place at the end: a failed build leaves the previous one as it was."""
    try:
        release_notes = notes(__version__)
    except ChangelogError as exc:
        raise ReleaseError(str(exc)) from None
    if built is not None and not (built / "template.yaml").is_file():
        raise ReleaseError(f"{built} is no sam build (no template.yaml): run `sam build` first.")
    out = out_root / f"rotor-{__version__}"
    partial = out_root / f".rotor-{__version__}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        (partial / "RELEASE_NOTES.md").write_text(release_notes)
        build_into(partial, built, bucket, prefix or f"rotor/{__version__}")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out


def build_into(out: Path, built: Path | None, bucket: str | None, prefix: str) -> None:
    """The artefacts, then their checksums, into ``out``."""
    epoch = source_date_epoch()
    distributions(out, epoch)
    with (
        tempfile.TemporaryDirectory(prefix="rotor-release-") as scratch,
        contextlib.ExitStack() as stack,
    ):
        if bucket is None:
            env, s3 = stack.enter_context(offline_s3())
        else:
            env, s3 = sam_env(), None
        for app in applications():
            given = built if app.name == "rotor" else None
            app_built = given or sam_build(app, Path(scratch) / app.name)
            if app.name == "rotor":
                layer_zip(app_built, out, epoch)
            sam_package(
                app_built,
                out / f"{app.name}.packaged.yaml",
                bucket or OFFLINE_BUCKET,
                f"{prefix}/{app.name}",
                env,
            )
        if s3 is not None:
            download_bucket(s3, OFFLINE_BUCKET, out / "s3")
    write_sums(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "dist",
        help="directory to write rotor-<version>/ into (default dist/; replaced if present)",
    )
    parser.add_argument(
        "--built",
        type=Path,
        help="an existing `sam build` of template.yaml to package instead of building it again",
    )
    parser.add_argument(
        "--s3-bucket",
        help="package into this real S3 bucket (a published release); default: an offline "
        "moto S3, the objects kept in the release's s3/ directory",
    )
    parser.add_argument(
        "--s3-prefix",
        default="",
        help="key prefix in the bucket (default rotor/<version>)",
    )
    args = parser.parse_args(argv)
    try:
        out = release(
            args.out.resolve(),
            args.built.resolve() if args.built else None,
            args.s3_bucket,
            args.s3_prefix,
        )
    except ReleaseError as exc:
        print(f"deploy/release.py: {exc}", file=sys.stderr)
        return 1
    print(f"rotor {__version__}: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
