"""Dashboard sign-in and sign-out: a username and password for a signed token, returned in the body for
API clients and set as cookies for the dashboard (see kefu.server.security)."""

import time
from typing import Annotated

from fastapi import APIRouter, Cookie, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from kefu.api_models import ErrorOut, LoginIn, PasswordIn, TokenOut, UserOut
from kefu.server.deps import Services, ServicesDep, UserDep, client_address, too_many_requests
from kefu.server.security import (
    CSRF_COOKIE,
    DEVICE_COOKIE,
    DEVICE_TTL_SECONDS,
    SESSION_COOKIE,
    csrf_token,
    device_token,
    device_username,
    issue_token,
)
from kefu.store import UserRecord

login_router = APIRouter(prefix="/api/v1/admin", tags=["auth"])
router = APIRouter(tags=["auth"])


@login_router.post(
    "/login", response_model=TokenOut, responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}}
)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    services: ServicesDep,
    device: Annotated[str | None, Cookie(alias=DEVICE_COOKIE, include_in_schema=False)] = None,
) -> TokenOut:
    """Exchange a username and password for a bearer token; send it as ``Authorization: Bearer <token>``.
    The response also sets the dashboard's session and CSRF cookies, and a known-device cookie.

    After too many failures (``server.login_*`` in kefu.yml: for the username from this client address,
    for the username from anywhere, from this address for any username) further attempts get 429 until
    the window passes, whatever the password. A browser that signed in as the user before is held only
    to the first limit, so failures from elsewhere cannot keep the user out."""
    throttle = services.login_throttle
    username, address = body.username.strip(), client_address(request)
    known = device_username(services.secret, device) == username
    wait = throttle.retry_after(username, address, known_device=known)
    if wait:
        raise too_many_requests("too many failed sign-ins", wait)
    # argon2 takes tens of milliseconds on purpose: off the event loop
    user = await run_in_threadpool(services.repo.authenticate, username, body.password)
    if user is None:
        throttle.failed(username, address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    throttle.succeeded(username, address)
    device_cookie = _cookie_attributes(request) | {"path": request.url.path, "max_age": DEVICE_TTL_SECONDS}
    response.set_cookie(DEVICE_COOKIE, device_token(services.secret, user.username), httponly=True, **device_cookie)
    return _signed_in(request, response, services, user)


def _signed_in(request: Request, response: Response, services: Services, user: UserRecord) -> TokenOut:
    """A new token for ``user``, also set as the dashboard's session and CSRF cookies on ``response``."""
    token, expires = issue_token(services.secret, user)
    cookie = _cookie_attributes(request) | {"max_age": max(0, expires - int(time.time()))}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **cookie)
    response.set_cookie(CSRF_COOKIE, csrf_token(services.secret, token), **cookie)
    return TokenOut(access_token=token, expires_at=expires, username=user.username, role=user.role)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(request: Request, user: UserDep, services: ServicesDep) -> Response:
    """Sign out: revoke every token of the signed-in user, this one and those of its other sessions
    (other browsers, API clients) alike, and clear the dashboard's cookies."""
    services.repo.revoke_tokens(user.user_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, httponly=True, **_cookie_attributes(request))
    response.delete_cookie(CSRF_COOKIE, **_cookie_attributes(request))
    return response


def _cookie_attributes(request: Request) -> dict:
    # Secure when the page came over https (uvicorn takes the scheme from a proxy it is told to trust);
    # Strict: no other site's link or form brings the cookies along
    return {"path": "/", "secure": request.url.scheme == "https", "samesite": "strict"}


@router.get("/me", response_model=UserOut)
def me(user: UserDep, services: ServicesDep) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(services.repo.get_user(user.user_id))


@router.post("/me/password", response_model=TokenOut)
def change_password(
    body: PasswordIn, request: Request, response: Response, user: UserDep, services: ServicesDep
) -> TokenOut:
    """Change the signed-in user's password. Every token issued to the user so far stops working (as
    after signing out); the answer is a new one, also set as the dashboard's cookies, so this session
    stays signed in."""
    services.repo.set_password(user.user_id, body.password)  # argon2: a plain def runs in a worker thread
    return _signed_in(request, response, services, services.repo.get_user(user.user_id))
