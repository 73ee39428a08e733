"""The client's tests use the private MariaDB servers of the MySQL tests."""

from tests.mysql.conftest import make_user, mdb  # noqa: F401 - fixtures
