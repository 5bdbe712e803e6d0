"""What route handlers share: the app's services, the dependencies that authenticate dashboard users, and
the chat API's rate limit."""

import math
from dataclasses import dataclass, field
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from kefu.api_models import ChatIn
from kefu.runtime import Bot, Erasure, RetrainJobs
from kefu.runtime.clusters import ClusterFinder
from kefu.server.limits import ChatLimits, SignInThrottle
from kefu.server.metrics import Metrics
from kefu.server.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Principal,
    csrf_matches,
    verify_token,
)
from kefu.store import Repository

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Model work (chat turns, predictions) is CPU work under one interpreter lock: a second thread of it in a
# server process only adds switching (more CPU per turn, fewer turns a second in bench_load.py), and a turn
# holding the database's write lock then waits for the interpreter while the other processes wait for
# the lock. More processes (kefu serve --workers) use more cores.
MODEL_THREADS = 1


@dataclass
class Services:
    """One app's bot, store, erasure, retrain jobs, signing secret, metrics, request limits and clusters of
    unanswered questions (on ``app.state.services``)."""

    bot: Bot
    repo: Repository
    erasure: Erasure
    jobs: RetrainJobs
    secret: bytes
    metrics: Metrics
    chat_limits: ChatLimits
    login_throttle: SignInThrottle
    clusters: ClusterFinder
    model_threads: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(MODEL_THREADS))
    # clustering unanswered questions (seconds of CPU): one at a time, beside the chat's model thread
    analysis_threads: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(1))


# The dependencies below are async although they do not wait for anything: FastAPI runs a plain function
# in a worker thread, and that hop costs more than all they do.


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def plain_url(request: Request) -> None:
    """400 for a NUL character in the URL's path or query: no id or search has one, and PostgreSQL could
    not even look it up."""
    query = request.query_params.multi_items()
    if "\x00" in request.scope["path"] or any("\x00" in key + value for key, value in query):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the URL must not contain NUL characters")


def client_address(request: Request) -> str:
    """The caller's IP address: the connection's, or the one a proxy in ``server.trusted_proxies`` names
    in X-Forwarded-For (kefu.server.app applies uvicorn's ProxyHeadersMiddleware with that list)."""
    return request.client.host if request.client else "unknown"


_bearer = HTTPBearer(auto_error=False, description="the access_token from POST /api/v1/admin/login")
_session = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description=f"set by POST /api/v1/admin/login; writes must also send the {CSRF_COOKIE} cookie's value "
    f"as the {CSRF_HEADER} header",
)


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_session)],
) -> Principal:
    """The signed-in dashboard user, by bearer token or else by session cookie; 401 without a valid one
    (a revoked one included: see kefu.server.security), 403 for a cookie-authenticated write without the
    session's CSRF token."""
    services = request.app.state.services
    secret = services.secret
    bearer = credentials is not None and credentials.scheme.lower() == "bearer"
    token = credentials.credentials if bearer else session
    principal = verify_token(secret, token) if token else None
    if principal is not None:
        # a database read: in a worker thread, as every blocking call, not on the event loop
        current = await to_thread.run_sync(services.repo.token_version, principal.user_id)
        principal = principal if current == principal.version else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first: missing, invalid or expired token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # a browser adds the cookie to requests any site's page makes; only kefu's own page can read the
    # CSRF cookie to copy it into the header (a bearer header is never added by a browser on its own)
    writes = request.method not in SAFE_METHODS
    if not bearer and writes and not csrf_matches(secret, token, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or invalid")
    return principal


async def admin_user(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    """The signed-in user if an admin; 403 for agents."""
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins may do this")
    return user


async def chat_rate_limit(request: Request) -> None:
    """429 with Retry-After when the caller has used up its chat allowance (``server:`` in kefu.yml,
    kefu.server.limits.ChatLimits): a poll (GET) its address's polls, a message (POST) its conversation's
    messages and its address's. Async: a little arithmetic needs no worker thread."""
    limits: ChatLimits = request.app.state.services.chat_limits
    address = client_address(request)
    if request.method == "GET":
        if wait := limits.polls.take(address):
            raise too_many_requests("too many polls from this address", wait)
        return
    # the conversation's first: a customer over its share does not spend its neighbours' allowance
    session = await _session_id(request)
    if session is not None and (wait := limits.conversations.take(session)):
        raise too_many_requests("too many messages in this conversation", wait)
    if wait := limits.messages.take(address):
        raise too_many_requests("too many chat requests from this address", wait)


async def _session_id(request: Request) -> str | None:
    # FastAPI has parsed the body already (json() returns its copy); an invalid one gets its 422 later
    try:
        return ChatIn.model_validate(await request.json()).session_id
    except ValueError:  # not JSON, or not a valid message (ValidationError is a ValueError)
        return None


def too_many_requests(what: str, wait: float) -> HTTPException:
    """429 saying ``what``, and (also in Retry-After) how many seconds to wait."""
    seconds = math.ceil(wait)
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"{what}; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[Principal, Depends(current_user)]
AdminDep = Annotated[Principal, Depends(admin_user)]
