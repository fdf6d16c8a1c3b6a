"""`boda serve` under uvicorn, with two things uvicorn lacks: a deadline for request headers, and a quick stop.

uvicorn times out idle keep-alive connections, but a client that connects and
sends half a request line (or headers one byte a minute) is held forever. The
body has its own deadline in the app (`web.errors.BodyReadTimeout`).

On SIGTERM uvicorn waits for every open response, and a job's event stream is
open for up to ten minutes: `DrainingServer` first tells the app to end its
streams (each sends `reconnect`, and clients resume after their Last-Event-ID
on the next process), and `shutdown_timeout_seconds` bounds the rest.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from boda.core.config import Settings

_BODY = json.dumps({"error": {"code": "request_timeout", "message": "The request headers took too long to arrive",
                              "details": {}}}).encode()
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                   b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)


class HeaderDeadline:
    """Mixed into a uvicorn protocol: once connected, and after each answer, headers must arrive in time."""

    header_timeout: float = 10.0
    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _deadline: asyncio.TimerHandle | None = None
    _partial = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._between_requests():
            self._partial = True
        super().data_received(data)  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._partial = False
        self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or not self._between_requests():
            return  # a request is being served: its body has the app's own deadline
        if self._partial:  # half a request came: say why it is dropped; an idle connection just closes
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


class H11WithDeadline(HeaderDeadline, H11Protocol):
    pass


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is optional
    HttpToolsWithDeadline: type[asyncio.Protocol] | None = None
else:
    class HttpToolsWithDeadline(HeaderDeadline, HttpToolsProtocol):  # type: ignore[no-redef]
        pass


def http_protocol() -> type[asyncio.Protocol]:
    """httptools when installed (uvicorn's own pick for "auto"), else h11; both with the deadline."""
    return HttpToolsWithDeadline or H11WithDeadline


class DrainingServer(uvicorn.Server):
    """A uvicorn server that, when it starts to shut down, sets the app's `draining` event first."""

    def __init__(self, config: uvicorn.Config, draining: threading.Event) -> None:
        super().__init__(config)
        self.draining = draining

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.draining.set()
        await super().shutdown(sockets)


def serve(settings: Settings, *, host: str, port: int, reload: bool) -> None:
    """Run uvicorn. (With --reload, a development mode, the defaults of uvicorn's worker apply.)"""
    protocol = http_protocol()
    protocol.header_timeout = settings.header_timeout_seconds  # type: ignore[attr-defined]
    options: dict[str, Any] = dict(
        host=host, port=port, http=protocol,
        timeout_keep_alive=min(5, max(1, int(settings.header_timeout_seconds))),
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        proxy_headers=bool(settings.trusted_proxies), forwarded_allow_ips=settings.trusted_proxies or None)
    if reload:
        uvicorn.run("boda.web.app:create_app", factory=True, reload=True, **options)
        return
    from boda.web.app import create_app

    app = create_app(settings)
    # log_config=None: uvicorn's lines go through the handler boda.core.logging installed (text or JSON).
    DrainingServer(uvicorn.Config(app, log_config=None, **options), app.state.draining).run()
