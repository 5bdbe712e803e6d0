"""Dashboard sign-in and sign-out: a username and password for a signed token, returned in the body for
API clients and set as cookies for the dashboard (see kefu.server.security)."""

import time

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from kefu.server.deps import ServicesDep, UserDep, client_address, too_many_requests
from kefu.server.schemas import ErrorOut, LoginIn, PasswordIn, TokenOut, UserOut
from kefu.server.security import CSRF_COOKIE, SESSION_COOKIE, csrf_token, issue_token

login_router = APIRouter(prefix="/api/v1/admin", tags=["auth"])
router = APIRouter(tags=["auth"])


@login_router.post(
    "/login", response_model=TokenOut, responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}}
)
async def login(body: LoginIn, request: Request, response: Response, services: ServicesDep) -> TokenOut:
    """Exchange a username and password for a bearer token; send it as ``Authorization: Bearer <token>``.
    The response also sets the dashboard's session and CSRF cookies.

    After too many failures for the username or from the client address (``server.login_max_failures``
    in kefu.yml) further attempts get 429 until the window passes, whatever the password."""
    throttle = services.login_throttle
    keys = ("user:" + body.username.strip(), "address:" + client_address(request))
    wait = throttle.retry_after(*keys)
    if wait:
        raise too_many_requests("too many failed sign-ins", wait)
    # argon2 takes tens of milliseconds on purpose: off the event loop
    user = await run_in_threadpool(services.repo.authenticate, body.username, body.password)
    if user is None:
        throttle.failed(*keys)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    throttle.succeeded(keys[0])
    token, expires = issue_token(services.secret, user)
    cookie = _cookie_attributes(request) | {"max_age": max(0, expires - int(time.time()))}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **cookie)
    response.set_cookie(CSRF_COOKIE, csrf_token(services.secret, token), **cookie)
    return TokenOut(access_token=token, expires_at=expires, username=user.username, role=user.role)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(request: Request, _: UserDep) -> Response:
    """Clear the dashboard's cookies. The token itself stays valid until it expires (tokens are
    stateless): an API client signs out by forgetting it."""
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


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def change_password(body: PasswordIn, user: UserDep, services: ServicesDep) -> Response:
    """Change the signed-in user's password (tokens already issued stay valid until they expire)."""
    await run_in_threadpool(services.repo.set_password, user.user_id, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
