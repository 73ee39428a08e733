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
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make deploy/ and rotor importable
    sys.path[:0] = [str(ROOT), str(ROOT / "common")]

from rotor._version import __version__  # noqa: E402

from deploy import template  # noqa: E402
from deploy.archive import deterministic_zip, write_sums  # noqa: E402
from deploy.changelog import ChangelogError, notes  # noqa: E402
from deploy.offline_s3 import OFFLINE_BUCKET, download_bucket, offline_s3  # noqa: E402
from deploy.sam_cli import ToolError, run, sam_build, sam_env, sam_package  # noqa: E402


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


def source_date_epoch() -> int:
    """``SOURCE_DATE_EPOCH``, else the release commit's time: the archives' timestamps."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    proc = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return int(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else 0


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
    except ToolError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ReleaseError(str(exc)) from exc
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
            app_built = given or sam_build(app.template, Path(scratch) / app.name, template.RUNTIME)
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
