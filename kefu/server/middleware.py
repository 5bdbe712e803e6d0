"""Pure ASGI middleware: request size limits and the security headers every response carries.

(The pages' Content-Security-Policy is set with each page, in kefu.server.pages.)
"""

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_API = "/api/v1/admin"


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
