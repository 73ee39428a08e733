"""moto (every emulated AWS service, Secrets Manager and RDS included) over HTTP on 127.0.0.1.

The socket is bound in the caller's thread, on port 0 unless one is asked for, so there is no
race for a free port and a port already in use is an immediate OSError (moto's own
ThreadedMotoServer waits forever when its thread cannot bind; werkzeug, binding itself, exits).
"""

from __future__ import annotations

import socket
from typing import Self

from rotor.local.background import BackgroundServer


class LocalMoto(BackgroundServer):
    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        # Bound here, not by werkzeug, which prints and exits when the port is taken.
        with socket.create_server((self.host, self.port)) as listening:
            server = make_server(
                self.host,
                self.port,
                app,
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=listening.fileno(),
            )
        self.port = int(server.port)
        self.serve(server, "moto")
        return self
