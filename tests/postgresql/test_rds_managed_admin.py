"""An RDS-managed master secret (username and password only) as the alternating users' admin.

Its database is found from the secret's aws:rds:primarydbinstancearn tag through the RDS API
(moto), and must be the server the rotated secret names. The private cluster's certificate
is issued to the RDS endpoint name; libpq's PGHOSTADDR makes that name reach 127.0.0.1 while
TLS is still verified against the name.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from rotor.local.servers import PostgresServer
from rotor.local.tlsca import make_ca

from tests.helpers import secret_value
from tests.pg import role_exists

HOST = "rotordb.aaaaaaaaaa.us-east-1.rds.amazonaws.com"  # moto's endpoint for "rotordb"


@pytest.fixture(scope="module")
def rds_db(tmp_path_factory, moto_endpoint):
    certs = make_ca(tmp_path_factory.mktemp("rds-ca"), hosts=(HOST, "127.0.0.1"))
    with PostgresServer(certs=certs) as server:
        rds = boto3.client("rds", endpoint_url=moto_endpoint)
        instance = rds.create_db_instance(
            DBInstanceIdentifier="rotordb",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername=server.superuser,
            MasterUserPassword=server.superuser_password,
            Port=server.port,
        )["DBInstance"]
        yield server, instance["DBInstanceArn"]


@pytest.fixture
def rds_admin(rds_db, sm, monkeypatch):
    """The RDS-managed secret, as RDS creates it: no host, tagged with the instance ARN."""
    server, instance_arn = rds_db
    monkeypatch.setenv("PGHOSTADDR", "127.0.0.1")
    monkeypatch.setenv("ROTOR_CA_BUNDLE", str(server.certs.ca))
    value = {"username": server.superuser, "password": server.superuser_password}
    return sm.create_secret(
        Name=f"rds!db-{uuid.uuid4()}",
        SecretString=json.dumps(value),
        Tags=[{"Key": "aws:rds:primarydbinstancearn", "Value": instance_arn}],
    )["ARN"]


def _secret(server, user, password, admin, host=HOST):
    return {
        "engine": "postgres",
        "host": host,
        "port": server.port,
        "username": user,
        "password": password,
        "dbname": "postgres",
        "masterarn": admin,
    }


def test_rds_managed_master_secret_as_admin(rds_db, rds_admin, sm, harness, new_secret, make_role):
    server, _ = rds_db
    user, old = make_role(server)
    arn = new_secret(_secret(server, user, old, rds_admin))
    assert harness("postgresql_alternating").rotate(arn).succeeded
    new = secret_value(sm, arn)
    assert new["username"] == f"{user}_clone" and new["host"] == HOST
    assert server.logs_in(new["username"], new["password"]) and server.logs_in(user, old)


def test_rds_managed_secret_of_another_server_is_refused(
    rds_db, rds_admin, sm, harness, new_secret, make_role
):
    server, _ = rds_db
    user, old = make_role(server)
    arn = new_secret(_secret(server, user, old, rds_admin, host="127.0.0.1"))
    report = harness("postgresql_alternating", attempts=1).rotate(arn)
    assert not report.succeeded
    assert f"points at {HOST}" in (report.steps[-1].error or "")
    assert not role_exists(server, f"{user}_clone")


def test_admin_secret_without_host_or_tag_is_a_clear_error(
    rds_db, sm, harness, new_secret, make_role
):
    server, _ = rds_db
    user, old = make_role(server)
    admin = new_secret({"username": server.superuser, "password": server.superuser_password})
    arn = new_secret(_secret(server, user, old, admin))
    report = harness("postgresql_alternating", attempts=1).rotate(arn)
    assert "key 'host' is missing and the secret has no" in (report.steps[-1].error or "")
    assert server.superuser_password not in (report.steps[-1].error or "")
