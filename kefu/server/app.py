"""`create_app(project_dir)`: the FastAPI application serving one trained bot project.

    /                       demo shop page with the chat widget
    /widget.js              the widget: <script src="http://HOST/widget.js"></script> on any page
    /admin                  the dashboard (inbox, review queue, analytics)
    /api/v1/chat            public chat API          /api/v1/admin/...   dashboard API (token or cookie)
    /healthz  /metrics      operations               /docs  /openapi.json   the API contract

The app is stateless between requests (conversations live in the database), so ``kefu serve --workers
N`` runs N copies of it on one port.
"""

import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kefu import __version__
from kefu.api_models import INVALID
from kefu.errors import KefuError
from kefu.knowledge import Embedder
from kefu.project import load_project
from kefu.project.settings import ServerSettings
from kefu.runtime import Bot, Erasure, MessageError, RetrainJobs, default_database_url
from kefu.runtime.clusters import ClusterFinder
from kefu.server.access_log import drop_query_strings
from kefu.server.deps import Services, current_user, plain_url
from kefu.server.limits import ChatLimits, SignInThrottle
from kefu.server.metrics import Metrics, MetricsMiddleware
from kefu.server.middleware import (
    BodySizeLimitMiddleware,
    InternalErrorMiddleware,
    SecurityHeadersMiddleware,
)
from kefu.server.pages import router as pages_router
from kefu.server.passwords import generated_password, show_password
from kefu.server.retention import retention_lifespan
from kefu.server.routes import (
    analytics,
    auth,
    chat,
    clusters,
    conversations,
    ops,
    privacy,
    retrain,
    reviews,
    users,
)
from kefu.server.security import load_secret
from kefu.store import (
    ConflictError,
    DatabaseUnavailable,
    InvalidValueError,
    NotFoundError,
    Repository,
    StoreError,
    open_repository,
)

log = logging.getLogger("kefu.server")

ENV_ADMIN_USER = "KEFU_ADMIN_USER"
ENV_ADMIN_PASSWORD = "KEFU_ADMIN_PASSWORD"
# comma-separated origins allowed to call the API from a browser; overrides kefu.yml server.cors_origins
ENV_CORS_ORIGINS = "KEFU_CORS_ORIGINS"
ENV_PROJECT = "KEFU_PROJECT_DIR"

DESCRIPTION = """\
A self-hosted customer-service bot (Chinese and English).

* **Public**: `POST /api/v1/chat` answers a customer; `GET /api/v1/chat/{session_id}/messages?after=SEQ`
  returns newer turns (agent replies) for the widget to poll. The answer that starts a conversation
  carries its `session_key`: send it as `X-Session-Key` to read or continue the conversation.
* **Admin**: sign in with `POST /api/v1/admin/login` and send the returned token as
  `Authorization: Bearer <token>` on every other `/api/v1/admin/` route. (Login also sets the dashboard's
  `kefu_session` cookie; requests authenticated by it must copy the `kefu_csrf` cookie into the
  `X-CSRF-Token` header on every POST, PUT, PATCH and DELETE.)
* **Limits**: the chat API is rate-limited per client address and request bodies are capped (`server:` in
  kefu.yml); over a limit the answer is 429 with `Retry-After`, or 413.
"""


def create_app(
    project_dir: str | Path,
    database_url: str | None = None,
    *,
    embedder: Embedder | None = None,
    password_hasher: PasswordHasher | None = None,
    server_settings: ServerSettings | None = None,
) -> FastAPI:
    """The app for the trained project in ``project_dir``.

    ``database_url`` defaults to $KEFU_DATABASE_URL, else ``kefu.db`` in the project. ``embedder`` is the
    knowledge base's (default: e5); ``password_hasher`` the store's argon2 parameters (tests pass cheap ones);
    ``server_settings`` replace kefu.yml's ``server:`` section (rate limits, body size, CORS origins).
    The first admin is created if there is no user (see :func:`ensure_first_admin`).
    """
    drop_query_strings()  # whoever serves the app: kefu serve, its workers, tests
    project = load_project(project_dir)
    repo = open_repository(
        database_url or default_database_url(project.root), password_hasher=password_hasher
    )
    bot = Bot(project.root, repo, embedder=embedder)
    ensure_first_admin(repo, project.root)
    metrics = Metrics()
    repo.store.faults.listen(metrics.database_fault, metrics.database_retries.inc)
    limits = server_settings or project.settings.server
    erasure = Erasure(repo, project)
    services = Services(
        bot,
        repo,
        erasure,
        RetrainJobs(bot),
        load_secret(project.root),
        metrics,
        chat_limits=ChatLimits(limits),
        login_throttle=SignInThrottle(limits),
        clusters=ClusterFinder(bot),
    )

    app = FastAPI(
        title=f"kefu: {project.settings.name}",
        version=__version__,
        description=DESCRIPTION,
        dependencies=[Depends(plain_url)],
        # kefu.yml privacy.retention_days: old conversations are purged while the server runs
        lifespan=retention_lifespan(erasure, project.settings.privacy.retention_days),
    )
    app.state.services = services
    _add_error_handlers(app)

    admin = APIRouter(prefix="/api/v1/admin", dependencies=[Depends(current_user)], responses=INVALID)
    for module in (auth, conversations, privacy, reviews, clusters, retrain, analytics, users):
        admin.include_router(module.router)
    app.include_router(chat.router)
    app.include_router(auth.login_router)
    app.include_router(admin)
    app.include_router(ops.router)
    app.include_router(pages_router)

    # the last added runs first: oversized bodies are refused before anything else reads them, and
    # every answer (413s and 500s included) gets the security and CORS headers
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=limits.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    origins = cors_origins(limits)
    if origins:  # none: browsers allow only pages of this server itself
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Session-Key", "X-Customer-Id"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if limits.trusted_proxies:
        # outermost: the client's address and scheme as the trusted proxies saw them, for all the rest
        # (kefu serve turns uvicorn's own proxy headers off, so this one list decides)
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=limits.trusted_proxies)
    metrics.set_model(bot.version)
    return app


def app_from_env() -> FastAPI:
    """The app factory uvicorn's workers call (``kefu serve``): the project from $KEFU_PROJECT_DIR."""
    import torch

    torch.set_num_threads(1)  # one request per thread; workers, not intra-op threads, use the cores
    project = os.environ.get(ENV_PROJECT)
    if not project:
        raise KefuError(f"{ENV_PROJECT} is not set; start the server with `kefu serve DIR`")
    return create_app(project)


def cors_origins(settings: ServerSettings) -> list[str]:
    """$KEFU_CORS_ORIGINS (comma-separated) when set, else ``server.cors_origins`` from kefu.yml."""
    override = os.environ.get(ENV_CORS_ORIGINS)
    if override is None:
        return list(settings.cors_origins)
    return [origin.strip() for origin in override.split(",") if origin.strip()]


def ensure_first_admin(repo: Repository, project_dir: Path, stream: TextIO | None = None) -> None:
    """Create the first admin when there are no users at all.

    The username is $KEFU_ADMIN_USER (default ``admin``) and the password $KEFU_ADMIN_PASSWORD; without
    it a random password is generated and shown once (:func:`kefu.server.passwords.show_password`: on a
    terminal, else in a private file of ``project_dir``), never logged or stored in clear. ``stream`` is
    where kefu says so (default stderr).
    """
    if repo.list_users():
        return
    username = os.environ.get(ENV_ADMIN_USER) or "admin"
    given = os.environ.get(ENV_ADMIN_PASSWORD)
    password = given or generated_password()
    try:
        repo.create_user(username, password, role="admin")
    except ConflictError:  # another worker created it a moment ago (and showed its password)
        return
    source = f" with the password from {ENV_ADMIN_PASSWORD}" if given else ""
    print(f"kefu: created dashboard admin {username!r}{source}", file=stream or sys.stderr, flush=True)
    if not given:
        show_password(username, password, project_dir, stream)


def _add_error_handlers(app: FastAPI) -> None:
    """kefu's errors as JSON ``{"detail": "one line"}`` with the status that fits them, a busy or unreachable
    database as 503 with Retry-After, and invalid requests as 422 ``{"detail": [{"loc", "msg", "type"},
    ...]}``. (Any other exception is InternalErrorMiddleware's JSON 500.)"""

    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes each wrong value ("input", "ctx"): the customer's words, personal
        # data perhaps, would be copied into responses and into whatever logs them
        fields = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        return JSONResponse({"detail": fields}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid_request)

    async def unavailable(_: Request, error: DatabaseUnavailable) -> JSONResponse:
        log.warning("database unavailable: %s", error.reason)
        return JSONResponse(
            {"detail": error.public}, status_code=503, headers={"Retry-After": str(error.retry_after)}
        )

    app.add_exception_handler(DatabaseUnavailable, unavailable)

    async def pool_exhausted(request: Request, error: PoolTimeout) -> JSONResponse:
        # every pooled connection busy for the pool's whole timeout: the database is busy, not the request
        reason = f"{type(error).__name__} (every pooled connection stayed busy)"
        return await unavailable(request, DatabaseUnavailable(reason, reason=reason, kind="busy"))

    app.add_exception_handler(PoolTimeout, pool_exhausted)

    def handler(code: int):
        async def handle(_: Request, error: Exception) -> JSONResponse:
            if code >= 500:
                log.error("%s: %s", type(error).__name__, error)
            # a StoreError's own message may name the database's URL or file; its public one does not
            detail = error.public if isinstance(error, StoreError) else str(error)
            line = detail.splitlines()[0] if detail else type(error).__name__
            return JSONResponse({"detail": line}, status_code=code)

        return handle

    # the most specific class wins, so NotFoundError gets 404 although it is also a StoreError
    for error, code in (
        (NotFoundError, 404),
        (ConflictError, 409),
        (InvalidValueError, 422),
        (MessageError, 422),
        (StoreError, 503),
        (KefuError, 500),
    ):
        app.add_exception_handler(error, handler(code))
