"""The HTTP server: chat API, admin API (bearer token or dashboard cookie), metrics, the chat widget and the
dashboard.

    from kefu.server import create_app, serve
    serve("my-shop", port=8000)            # what `kefu serve my-shop` runs
    app = create_app("my-shop")            # the FastAPI app, for any ASGI server

A thin shell over :mod:`kefu.runtime`; every answer is :meth:`kefu.runtime.Bot.handle`.
"""

from kefu.server.app import create_app
from kefu.server.serve import serve

__all__ = ["create_app", "serve"]
