"""The public chat API the widget talks to: send a message, poll for new ones (agent replies)."""

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, Path, Query

from kefu.api_models import INVALID, MAX_DB_INT, ChatIn, ErrorOut, MessageOut, MessagesOut, TurnResult
from kefu.runtime.recording import turns_after
from kefu.server.deps import Services, ServicesDep, chat_rate_limit
from kefu.store import ConversationRecord, NotFoundError
from kefu.store.conversations import may_access
from kefu.store.models import CUSTOMER_ID_MAX, Conversation

SESSION_ID_MAX = Conversation.__table__.c.session_id.type.length  # no longer id exists: refused unread
SessionKey = Annotated[
    str | None,
    Header(
        alias="X-Session-Key",
        max_length=256,
        description="the session_key of the answer that started the conversation",
    ),
]

router = APIRouter(
    prefix="/api/v1/chat",
    tags=["chat"],
    dependencies=[Depends(chat_rate_limit)],
    responses={
        **INVALID,
        429: {"model": ErrorOut, "description": "over the rate limit: wait Retry-After seconds"},
    },
)


@router.post("", response_model=TurnResult)
async def chat(body: ChatIn, services: ServicesDep, session_key: SessionKey = None) -> TurnResult:
    """Answer one customer message. Without ``session_id`` (or with one unknown, or without its key in
    ``X-Session-Key``) a new conversation starts; the answer carries the ``session_id`` and the
    ``session_key`` to send next time.

    While a human agent has the conversation (``handoff: true``) the reply text is empty: the agent's
    answer arrives through ``GET /api/v1/chat/{session_id}/messages``.
    """

    def turn() -> TurnResult:
        session_id = body.session_id
        if session_id is not None and not _conversation(services, session_id, session_key, body.customer_id):
            session_id = None  # as for an unknown id: who has only the id gets a conversation of their own
        return services.bot.handle(
            session_id,
            body.text,
            explain=body.explain,
            customer_id=body.customer_id,
            client_message_id=body.client_message_id,
        )

    result = await to_thread.run_sync(turn, limiter=services.model_threads)
    if result.decision is not None:
        services.metrics.turns.labels(result.decision).inc()
        if result.decision == "handoff":
            services.metrics.handoffs.inc()
    return result


@router.get("/{session_id}/messages", response_model=MessagesOut, responses={404: {"model": ErrorOut}})
def messages(
    session_id: Annotated[str, Path(max_length=SESSION_ID_MAX)],
    services: ServicesDep,
    session_key: SessionKey = None,
    customer_id: Annotated[
        str | None,
        Header(
            alias="X-Customer-Id",
            max_length=CUSTOMER_ID_MAX,
            description="for a conversation started before session keys: the customer_id it was started with",
        ),
    ] = None,
    after: Annotated[int, Query(ge=-1, le=MAX_DB_INT, description="only turns with a larger seq")] = -1,
) -> MessagesOut:
    """The conversation's turns after ``after`` (all of them with the default), oldest first, and its
    status. The widget polls this every couple of seconds to show agent replies as they come.

    It needs the conversation's key (``X-Session-Key``); without it, or with another, the answer is the
    404 of an unknown session."""
    conversation = _conversation(services, session_id, session_key, customer_id)
    if conversation is None:
        raise NotFoundError("unknown session")
    turns = turns_after(services.repo, session_id, after)
    return MessagesOut(
        session_id=session_id,
        status=conversation.status,
        messages=[MessageOut.model_validate(turn) for turn in turns],
        last_seq=turns[-1].seq if turns else after,
    )


def _conversation(
    services: Services, session_id: str, key: str | None, customer_id: str | None
) -> ConversationRecord | None:
    """The conversation, if the client may read and continue it (see :func:`may_access`)."""
    conversation = services.repo.get_conversation(session_id)
    return conversation if conversation is not None and may_access(conversation, key, customer_id) else None
