"""A server bound in the caller's thread and served from a daemon thread until stopped."""

from __future__ import annotations

import threading
from typing import Any, Self


class BackgroundServer:
    """Base of the local HTTP servers (moto, the fake providers). Subclasses build the server
    in ``start()`` and hand it to :meth:`serve`; binding there, not in the thread, makes a
    port problem an immediate error instead of a hang."""

    _server: Any = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def serve(self, server: Any, name: str) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True, name=name)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
