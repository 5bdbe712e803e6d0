"""Dashboard sign-in: a username and password for a signed bearer token (see kefu.server.security)."""

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool

from kefu.server.deps import ServicesDep, UserDep
from kefu.server.schemas import ErrorOut, LoginIn, PasswordIn, TokenOut, UserOut
from kefu.server.security import issue_token

login_router = APIRouter(prefix="/api/v1/admin", tags=["auth"])
router = APIRouter(tags=["auth"])


@login_router.post("/login", response_model=TokenOut, responses={401: {"model": ErrorOut}})
async def login(body: LoginIn, services: ServicesDep) -> TokenOut:
    """Exchange a username and password for a bearer token; send it as ``Authorization: Bearer <token>``."""
    # argon2 takes tens of milliseconds on purpose: off the event loop
    user = await run_in_threadpool(services.repo.authenticate, body.username, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    token, expires = issue_token(services.secret, user)
    return TokenOut(access_token=token, expires_at=expires, username=user.username, role=user.role)


@router.get("/me", response_model=UserOut)
def me(user: UserDep, services: ServicesDep) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(services.repo.get_user(user.user_id))


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def change_password(body: PasswordIn, user: UserDep, services: ServicesDep) -> Response:
    """Change the signed-in user's password (tokens already issued stay valid until they expire)."""
    await run_in_threadpool(services.repo.set_password, user.user_id, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
