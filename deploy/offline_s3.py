"""A local S3 for an offline release: moto on 127.0.0.1, the bucket `sam package` uploads
to, and the objects copied out afterwards. Only the release imports it (moto is in the dev
extra)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deploy.sam_cli import sam_env

OFFLINE_BUCKET = "rotor-release-offline"


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
