"""Erasure on request (admins only): one conversation, or everything a customer said."""

from typing import Annotated

from fastapi import APIRouter, Path

from kefu.api_models import (
    CUSTOMER_ID_DESCRIPTION,
    CUSTOMER_ID_PATTERN,
    DeletedOut,
    ErrorOut,
)
from kefu.server.deps import AdminDep, ServicesDep
from kefu.store import NotFoundError
from kefu.store.models import CUSTOMER_ID_MAX

router = APIRouter(tags=["privacy"])
CustomerId = Annotated[
    str, Path(max_length=CUSTOMER_ID_MAX, pattern=CUSTOMER_ID_PATTERN, description=CUSTOMER_ID_DESCRIPTION)
]


@router.delete("/conversations/{session_id}", response_model=DeletedOut, responses={404: {"model": ErrorOut}})
def delete_conversation(session_id: str, services: ServicesDep, _: AdminDep) -> DeletedOut:
    """Delete the conversation with its turns, tickets, reviews and feedback, and its reviewed turns'
    examples in ``data/reviewed.yml``; 404 if there is none."""
    if not services.erasure.delete_conversation(session_id):
        raise NotFoundError(f"unknown session {session_id!r}")
    return DeletedOut(deleted=1)


@router.delete("/customers/{customer_id}", response_model=DeletedOut)
def erase_customer(customer_id: CustomerId, services: ServicesDep, _: AdminDep) -> DeletedOut:
    """Delete every conversation the customer had (as ``customer_id`` of ``POST /api/v1/chat``), with
    everything attached, ``data/reviewed.yml`` examples included; ``deleted`` is 0 for a customer with none."""
    return DeletedOut(deleted=services.erasure.erase_customer(customer_id))
