"""Pure ASGI middleware: request size limits, the security headers every response carries, and a JSON
answer for an error nothing else handled.

(The pages' Content-Security-Policy is set with each page, in kefu.server.pages.)
"""

import logging
import traceback
from pathlib import Path

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_API = "/api/v1/admin"
log = logging.getLogger("kefu.server")


class BodySizeLimitMiddleware:
    """413 ``{"detail": "request body over N bytes"}`` for a request body over ``max_bytes``: before reading
    it when Content-Length says so, else as soon as a chunked body grows past it.

    The body is read here, whole, before the app runs (so it holds at most ``max_bytes`` per request);
    the app then receives it in one piece.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        received = False

        async def replay() -> Message:
            nonlocal received
            if received:
                return await receive()  # after the body: a disconnect, whenever it comes
            received = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"request body over {self.max_bytes} bytes"}, status_code=413)
        await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """``X-Content-Type-Options: nosniff`` (a response is never run as another type than it says) and
    ``Referrer-Policy: no-referrer`` on every response, and ``Cache-Control: no-store`` on the admin API:
    conversations an agent reads must not stay behind in a browser's or a proxy's cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        admin = scope["path"].startswith(ADMIN_API)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                if admin:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class InternalErrorMiddleware:
    """An exception no handler took becomes ``500 {"detail": "internal error"}`` and one log line naming its
    type and where it was raised (the traceback only when the log is at debug level).

    Starlette's own last resort answers text/plain and re-raises, so the server logs the whole traceback,
    and an exception's message may quote a customer's words or SQL: neither is logged here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as error:
            log.error(
                "internal error: %s at %s (%s %s)",
                type(error).__name__,
                _raised_at(error),
                scope["method"],
                scope["path"],
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            if not started:  # else the client gets a cut-off answer: the status line is already sent
                await JSONResponse({"detail": "internal error"}, status_code=500)(scope, receive, send)


def _raised_at(error: BaseException) -> str:
    """``runtime/bot.py:123``: the file (with its folder) and line where ``error`` was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    path = Path(frame.filename)
    return f"{path.parent.name}/{path.name}:{frame.lineno}"
