"""User management (admins only): list dashboard users, create agents and admins."""

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from kefu.api_models import ErrorOut, UserIn, UserOut
from kefu.server.deps import AdminDep, ServicesDep

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserOut], responses={403: {"model": ErrorOut}})
def users(services: ServicesDep, _: AdminDep) -> list[UserOut]:
    """Every dashboard user by username."""
    return [UserOut.model_validate(u) for u in services.repo.list_users()]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
async def create_user(body: UserIn, services: ServicesDep, _: AdminDep) -> UserOut:
    """Create an agent (or another admin); 409 when the username is taken."""
    user = await run_in_threadpool(services.repo.create_user, body.username, body.password, body.role)
    return UserOut.model_validate(user)
