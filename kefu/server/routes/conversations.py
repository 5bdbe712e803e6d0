"""Conversations and the handoff inbox: search, read, claim, answer as a human, hand back or close."""

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from kefu.api_models import (
    MAX_DB_INT,
    AgentReplyIn,
    ConversationDetail,
    ConversationOut,
    ConversationSearchIn,
    ErrorOut,
    MessageOut,
    TicketOut,
    TurnOut,
)
from kefu.conversation import ConversationStatus
from kefu.dialogue import ConversationState
from kefu.errors import DataError
from kefu.server.deps import Services, ServicesDep, UserDep
from kefu.server.security import Principal
from kefu.store import ConversationRecord, NotFoundError, Repository

router = APIRouter(tags=["conversations"])
NOT_FOUND = {404: {"model": ErrorOut}}
CONFLICT = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


SEARCH_IN_BODY = (
    'search with POST /api/v1/admin/conversations/search {"q": ...}: a query in the URL would be written '
    "to access logs"
)


@router.get("/conversations", response_model=list[ConversationOut], responses={400: {"model": ErrorOut}})
def list_conversations(
    services: ServicesDep,
    _: UserDep,
    q: Annotated[str | None, Query(include_in_schema=False)] = None,
    status_: Annotated[ConversationStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[ConversationOut]:
    """Conversations, most recently active first. Searching is ``POST /conversations/search``; a ``q``
    here is refused (400), not ignored."""
    if q is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, SEARCH_IN_BODY)
    return _listed(services, ConversationSearchIn(status=status_, limit=limit, offset=offset))


@router.post("/conversations/search", response_model=list[ConversationOut])
def search_conversations(body: ConversationSearchIn, services: ServicesDep, _: UserDep) -> list[ConversationOut]:
    """Conversations whose session id is ``q`` or whose turns contain it, most recently active first."""
    return _listed(services, body)


def _listed(services: Services, search: ConversationSearchIn) -> list[ConversationOut]:
    found = services.repo.list_conversations(
        query=search.q, status=search.status, limit=search.limit, offset=search.offset
    )
    return [ConversationOut.model_validate(c) for c in found]


@router.get("/conversations/{session_id}", response_model=ConversationDetail, responses=NOT_FOUND)
def conversation(
    session_id: str,
    services: ServicesDep,
    _: UserDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ConversationDetail:
    """One conversation with its last ``limit`` turns (oldest first), NLU results and decisions included."""
    record = _conversation(services.repo, session_id)
    turns = services.repo.history(session_id, limit=limit)
    return ConversationDetail(
        conversation=ConversationOut.model_validate(record), turns=[TurnOut.model_validate(t) for t in turns]
    )


@router.get("/inbox", response_model=list[TicketOut])
def inbox(
    services: ServicesDep,
    user: UserDep,
    status_: Annotated[Literal["open", "claimed", "closed"], Query(alias="status")] = "open",
    mine: Annotated[bool, Query(description="only tickets claimed by the signed-in user")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[TicketOut]:
    """Handoff tickets, oldest first: ``open`` ones wait for an agent to claim them."""
    tickets = services.repo.inbox(status_, agent_id=user.user_id if mine else None, limit=limit)
    return [TicketOut.model_validate(t) for t in tickets]


@router.post("/conversations/{session_id}/claim", response_model=TicketOut, responses=CONFLICT)
def claim(session_id: str, services: ServicesDep, user: UserDep) -> TicketOut:
    """Take the conversation: the bot goes quiet and the signed-in user answers. Claiming a conversation
    nobody asked a human for is allowed (an agent stepping in)."""
    _conversation(services.repo, session_id)
    return TicketOut.model_validate(services.repo.claim(session_id, user.user_id))


@router.post("/conversations/{session_id}/reply", response_model=MessageOut, responses=CONFLICT)
def reply(session_id: str, body: AgentReplyIn, services: ServicesDep, user: UserDep) -> MessageOut:
    """Answer the customer as a human; the widget shows it at its next poll. Only the agent who claimed
    the conversation may answer."""
    _own(services.repo, session_id, user)
    # the project's own redaction, as for the customer's words: an agent may quote a card number back
    text = services.bot.redact(body.text.strip())
    turn = services.repo.add_turn(session_id, "agent", text, agent_id=user.user_id)
    return MessageOut.model_validate(turn)


@router.post("/conversations/{session_id}/release", response_model=ConversationOut, responses=CONFLICT)
def release(session_id: str, services: ServicesDep, user: UserDep) -> ConversationOut:
    """Hand the conversation back to the bot: its ticket is closed and the bot answers the next message."""
    record = _not_anothers(services.repo, session_id, user)
    services.repo.release_to_bot(session_id)
    try:
        state = ConversationState.from_dict(record.state)
    except DataError:
        state = ConversationState()
    # the bot starts afresh: not handed off, and no fallbacks counted against the customer
    state.handed_off, state.fallback_count = False, 0
    return ConversationOut.model_validate(services.repo.save_state(session_id, state.to_dict()))


@router.post("/conversations/{session_id}/close", response_model=ConversationOut, responses=CONFLICT)
def close(session_id: str, services: ServicesDep, user: UserDep) -> ConversationOut:
    """End the conversation: its ticket is closed, and its slot values (what the customer told the bot)
    are deleted except kefu.yml's ``privacy.keep_slots``. A new message from the customer starts a new
    conversation."""
    _not_anothers(services.repo, session_id, user)
    keep = services.bot.project.settings.privacy.keep_slots
    return ConversationOut.model_validate(services.repo.close_conversation(session_id, keep_slots=keep))


def _conversation(repo: Repository, session_id: str) -> ConversationRecord:
    record = repo.get_conversation(session_id)
    if record is None:
        raise NotFoundError(f"unknown session {session_id!r}")
    return record


def _not_anothers(repo: Repository, session_id: str, user: Principal) -> ConversationRecord:
    """The conversation, unless another agent has it (admins may take over)."""
    record = _conversation(repo, session_id)
    if record.status == "human" and record.assigned_agent_id != user.user_id and not user.is_admin:
        raise HTTPException(status.HTTP_409_CONFLICT, "another agent has this conversation")
    return record


def _own(repo: Repository, session_id: str, user: Principal) -> None:
    record = _conversation(repo, session_id)
    if record.status != "human" or record.assigned_agent_id != user.user_id:
        raise HTTPException(status.HTTP_409_CONFLICT, "claim the conversation before answering it")
