"""Release archives that are the same bytes whoever builds them, and their checksums.

A zip of the same files has the same SHA-256 on any machine: entries sorted, every timestamp
the release's (``SOURCE_DATE_EPOCH``), permissions normalised, no directory entries, no
owner. Standard library only.
"""

from __future__ import annotations

import hashlib
import time
import zipfile
from pathlib import Path

SUMS = "SHA256SUMS"


def deterministic_zip(source: Path, target: Path, epoch: int) -> Path:
    """Zip the files under ``source`` (paths relative to it) into ``target``."""
    stamp = time.gmtime(max(epoch, 315532800))[:6]  # zip dates start in 1980
    files = sorted(p for p in source.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=stamp)
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode is read back on any machine
            archive.writestr(info, path.read_bytes())
    return target


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sums(directory: Path) -> Path:
    """``SHA256SUMS`` over every other file of ``directory``, as ``sha256sum -c`` reads it."""
    lines = [
        f"{sha256(path)}  {path.relative_to(directory).as_posix()}"
        for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != SUMS)
    ]
    target = directory / SUMS
    target.write_text("\n".join(lines) + "\n")
    return target


def verify_sums(directory: Path) -> list[str]:
    """What ``SHA256SUMS`` does not vouch for: changed, missing or unlisted files."""
    listed = {}
    for line in (directory / SUMS).read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    problems = [
        f"{name}: {'missing' if not (directory / name).is_file() else 'changed'}"
        for name, digest in listed.items()
        if not (directory / name).is_file() or sha256(directory / name) != digest
    ]
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != SUMS
    }
    problems += [f"{name}: not listed" for name in sorted(present - set(listed))]
    return problems
