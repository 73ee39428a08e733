"""Where an RDS-managed master secret's database lives.

RDS-managed master secrets (``rds!db-…``, ``rds!cluster-…``) hold only ``username`` and
``password``; the instance or cluster is named by the secret's ``aws:rds:primarydbinstancearn``
or ``aws:rds:primarydbclusterarn`` tag. Its endpoint, read from the RDS API, stands in for the
missing ``host`` and ``port``, so the same-server guard still holds.
"""

from __future__ import annotations

from typing import Any

from rotor.errors import SecretFormatError, StateError
from rotor.secrets import SecretDescription

INSTANCE_TAG = "aws:rds:primarydbinstancearn"
CLUSTER_TAG = "aws:rds:primarydbclusterarn"


def _client(region: str) -> Any:
    from rotor import aws  # deferred, as for Secrets Manager; AWS_ENDPOINT_URL_RDS is honoured

    return aws.client("rds", region_name=region)


def endpoint(admin: SecretDescription) -> dict[str, Any]:
    """``{"host", "port"}`` of the database an RDS-managed secret belongs to."""
    tags = admin.tags
    arn = tags.get(INSTANCE_TAG) or tags.get(CLUSTER_TAG)
    if arn is None:
        raise SecretFormatError(
            f"Admin secret {admin.name}: key 'host' is missing and the secret has no "
            f"{INSTANCE_TAG} or {CLUSTER_TAG} tag (it is not RDS-managed); add host and port."
        )
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "rds":
        raise StateError(f"Admin secret {admin.name}: tag value {arn} is not an RDS ARN.")
    region, identifier = parts[3], parts[6]
    from botocore.exceptions import ClientError

    rds = _client(region)
    try:
        if INSTANCE_TAG in tags:
            found = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
            where = found[0].get("Endpoint", {}) if found else {}
            host, port = where.get("Address"), where.get("Port")
        else:
            clusters = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
            host, port = (
                (clusters[0].get("Endpoint"), clusters[0].get("Port")) if clusters else (None, None)
            )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise StateError(
            f"Admin secret {admin.name} is RDS-managed, but {arn} cannot be described ({code}); "
            "let the function describe it (template parameter RdsManagedAdminDatabaseArns)."
        ) from None
    if not host or not port:
        raise StateError(f"RDS reports no endpoint for {arn} (is it still being created?).")
    return {"host": host, "port": port}
