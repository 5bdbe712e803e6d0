"""What route handlers share: the app's services, and the dependencies that authenticate dashboard users."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kefu.runtime import Bot, RetrainJobs
from kefu.server.metrics import Metrics
from kefu.server.security import Principal, verify_token
from kefu.store import Repository


@dataclass
class Services:
    """One app's bot, store, retrain jobs, signing secret and metrics (on ``app.state.services``)."""

    bot: Bot
    repo: Repository
    jobs: RetrainJobs
    secret: bytes
    metrics: Metrics


def get_services(request: Request) -> Services:
    return request.app.state.services


_bearer = HTTPBearer(auto_error=False, description="the access_token from POST /api/v1/admin/login")


def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The signed-in dashboard user; 401 without a valid bearer token."""
    principal = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        principal = verify_token(get_services(request).secret, credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first: missing, invalid or expired bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def admin_user(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    """The signed-in user if an admin; 403 for agents."""
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins may do this")
    return user


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[Principal, Depends(current_user)]
AdminDep = Annotated[Principal, Depends(admin_user)]
