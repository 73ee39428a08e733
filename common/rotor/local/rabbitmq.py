"""A throwaway RabbitMQ node with real password authentication, beside the servers of
:mod:`rotor.local.servers`.

A machine with RabbitMQ usually runs its own node (``rabbit@localhost`` on 5672): this one
never touches it. It has a node name of its own, free 127.0.0.1 ports for AMQP, the
management HTTP API and Erlang distribution, and keeps every file (database, log,
configuration, plugins list, Erlang cookie: the directory is its ``HOME``) in a temporary
directory of its own, removed when it stops. Only epmd, the machine's node-name registry, is
shared, as Erlang intends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from rotor.local import servers
from rotor.local.servers import (
    _ChildServer,
    _chown_tree,
    _port_attempts,
    _private_env,
    _service_user,
)

# Where the server's own scripts are when ``rabbitmq-server`` on PATH is a distribution's
# wrapper (Debian's /usr/sbin one runs the node in /var/lib/rabbitmq, logging to /var/log).
_SEARCH = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")


def rabbitmq_scripts() -> Path | None:
    """The directory holding ``rabbitmq-server``, ``rabbitmqctl`` and ``rabbitmq-env``."""
    found = shutil.which("rabbitmq-server") or next(
        (
            str(Path(d) / "rabbitmq-server")
            for d in _SEARCH
            if (Path(d) / "rabbitmq-server").is_file()
        ),
        None,
    )
    if found is None:
        return None
    scripts = Path(found).resolve().parent
    if (scripts / "rabbitmq-env").is_file():
        return scripts
    packaged = scripts.parent / "lib" / "rabbitmq" / "bin"  # /usr/sbin -> /usr/lib/rabbitmq/bin
    return packaged if (packaged / "rabbitmq-env").is_file() else None


@dataclass
class RabbitMQServer(_ChildServer):
    """A private RabbitMQ node with the management plugin; ``port`` is AMQP's.

    The admin (tag ``administrator``, every permission on ``/``, a random password) is the
    node's only user, made at first boot: ``guest`` is never created. The configuration line
    holding the admin's password is removed once the node has booted, so the password is
    nowhere on disk in clear text. Run as root, the node runs as the ``rabbitmq`` user.
    """

    engine: ClassVar[str] = "rabbitmq"
    timeout: float = 120.0  # a first boot takes 10-30 s on a busy machine
    management_port: int = 0
    dist_port: int = 0
    node: str = field(default_factory=lambda: f"rotor-{os.urandom(4).hex()}@localhost")

    @classmethod
    def missing(cls) -> str | None:
        import importlib.util

        if rabbitmq_scripts() is None:
            return (
                "No rabbitmq-server found: install RabbitMQ, e.g. "
                "`apt-get install rabbitmq-server` or `brew install rabbitmq`."
            )
        if importlib.util.find_spec("pika") is None:
            return "The AMQP client library is missing: `pip install pika` (or rotor[dev])."
        return None

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    def start(self) -> Self:
        problem = self.missing()
        if problem is not None:
            raise RuntimeError(problem)
        user = _service_user("rabbitmq")
        self.directory = Path(tempfile.mkdtemp(prefix="rotor-rabbitmq-"))
        cookie = self.directory / ".erlang.cookie"  # rabbitmqctl finds it through HOME
        cookie.write_text(os.urandom(20).hex())
        cookie.chmod(0o400)
        (self.directory / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.directory / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's
        self.port = self.port or servers.free_port()
        self.management_port = self.management_port or servers.free_port()
        self.dist_port = self.dist_port or servers.free_port()
        for attempt in _port_attempts(self):
            self.log_file.unlink(missing_ok=True)  # a lost port race's errors are not ours
            self._configure(with_admin_password=True)
            _private_env(self.directory)
            _chown_tree(self.directory, user)
            with (self.directory / "console.log").open("ab") as console:
                self.process = subprocess.Popen(
                    [str(self._script("rabbitmq-server"))],
                    stdout=console,
                    stderr=subprocess.STDOUT,
                    env=self._env(),
                    cwd=self.directory,
                    start_new_session=True,  # its Erlang VM is stopped with it
                    **self._as(user),
                )
            try:
                self._wait_ready()
                break
            except RuntimeError:
                self.end_process()
                if not attempt.retry_if_port_taken("eaddrinuse"):
                    self.stop()
                    raise
                self.management_port, self.dist_port = servers.free_port(), servers.free_port()
            except BaseException:  # Ctrl-C while it boots: no node left running
                self.stop()
                raise
        self._configure(with_admin_password=False)
        return self

    def _configure(self, with_admin_password: bool) -> None:
        assert self.directory is not None
        lines = [
            f"listeners.tcp.default = {self.host}:{self.port}",
            f"management.tcp.ip = {self.host}",
            f"management.tcp.port = {self.management_port}",
            f"default_user = {self.superuser}",
            "default_user_tags.administrator = true",
            "loopback_users = none",  # the admin logs in over TCP like any client
            "log.console = false",
            f"log.file = {self.log_file}",
        ]
        if with_admin_password:
            lines.append(f"default_pass = {self.superuser_password}")
        (self.directory / "rabbitmq.conf").write_text("\n".join(lines) + "\n")

    def _env(self) -> dict[str, str]:
        assert self.directory is not None
        directory = self.directory
        ctl_port = servers.free_port()
        return {
            **_private_env(directory),
            "HOME": str(directory),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            # rabbitmqctl's own distribution port: DIST_PORT + 10000 by default, maybe > 65535
            "RABBITMQ_CTL_DIST_PORT_MIN": str(ctl_port),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(ctl_port),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(directory / "plugins-expand"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _script(self, name: str) -> Path:
        scripts = rabbitmq_scripts()
        assert scripts is not None
        return scripts / name

    @staticmethod
    def _as(user: Any) -> dict[str, Any]:
        if user is None:
            return {}
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def _wait_ready(self) -> None:
        """Until the management API lists the AMQP listener on our port: the management
        listener starts first, and a node that cannot bind AMQP's port stops after it."""
        import requests

        deadline = time.monotonic() + self.timeout
        while self.process is not None and self.process.poll() is None:
            if "eaddrinuse" in self.log_text():
                raise RuntimeError(f"rabbitmq-server could not bind: {self.log_text()[-2000:]}")
            try:
                overview = self.api("GET", "/api/overview")
                if overview.status_code == 200 and any(
                    listener["protocol"] == "amqp" and listener["port"] == self.port
                    for listener in overview.json().get("listeners", [])
                ):
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("rabbitmq-server did not answer in time.")
            time.sleep(0.2)
        assert self.directory is not None
        console = self.directory / "console.log"
        text = self.log_text() + (console.read_text(errors="replace") if console.exists() else "")
        raise RuntimeError(f"rabbitmq-server exited: {text[-2000:]}")

    def end_process(self) -> None:
        """SIGTERM (a clean shutdown of the node), then SIGKILL to the whole group after 60 s."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl -n <node> args``, with this node's cookie; its output."""
        user = _service_user("rabbitmq")
        result = subprocess.run(
            [str(self._script("rabbitmqctl")), "-n", self.node, *args],
            capture_output=True,
            text=True,
            check=False,
            env=self._env(),
            timeout=120,
            cwd=self.directory,  # Erlang reads its working directory: the caller's may be private
            **self._as(user),
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {result.stderr.strip()[-2000:]}")
        return str(result.stdout)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A management API request as the admin: a ``requests.Response``."""
        import requests

        return requests.request(
            method,
            self.management_url + path,
            auth=(self.superuser, self.superuser_password),
            timeout=10,
            **kwargs,
        )

    def connect(self, user: str | None = None, password: str | None = None) -> Any:
        """A ``pika.BlockingConnection`` to the ``/`` vhost (as the admin unless ``user``)."""
        import pika

        credentials = pika.PlainCredentials(
            user or self.superuser, self.superuser_password if user is None else (password or "")
        )
        return pika.BlockingConnection(
            pika.ConnectionParameters(
                host=self.host,
                port=self.port,
                credentials=credentials,
                connection_attempts=1,
                socket_timeout=5,
                blocked_connection_timeout=5,
            )
        )

    def logs_in(self, user: str, password: str) -> bool:
        import pika.exceptions

        try:
            self.connect(user, password).close()
        except pika.exceptions.ProbableAuthenticationError:
            return False
        return True

    def admin_secret(self, **extra: Any) -> dict[str, Any]:
        return super().admin_secret(**{"management_port": self.management_port, **extra})
