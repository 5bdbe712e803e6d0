"""The public chat API the widget talks to: send a message, poll for new ones (agent replies)."""

from functools import partial
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Query

from kefu.runtime import TurnResult
from kefu.runtime.recording import turns_after
from kefu.server.deps import ServicesDep, chat_rate_limit
from kefu.server.schemas import INVALID, MAX_DB_INT, ChatIn, ErrorOut, MessageOut, MessagesOut
from kefu.store import NotFoundError

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
async def chat(body: ChatIn, services: ServicesDep) -> TurnResult:
    """Answer one customer message. Without ``session_id`` (or with an unknown one) a new conversation
    starts; the answer carries the ``session_id`` to send next time.

    While a human agent has the conversation (``handoff: true``) the reply text is empty: the agent's
    answer arrives through ``GET /api/v1/chat/{session_id}/messages``.
    """
    turn = partial(
        services.bot.handle, body.session_id, body.text, explain=body.explain, customer_id=body.customer_id
    )
    result = await to_thread.run_sync(turn, limiter=services.model_threads)
    if result.decision is not None:
        services.metrics.turns.labels(result.decision).inc()
        if result.decision == "handoff":
            services.metrics.handoffs.inc()
    return result


@router.get("/{session_id}/messages", response_model=MessagesOut, responses={404: {"model": ErrorOut}})
def messages(
    session_id: str,
    services: ServicesDep,
    after: Annotated[int, Query(ge=-1, le=MAX_DB_INT, description="only turns with a larger seq")] = -1,
) -> MessagesOut:
    """The conversation's turns after ``after`` (all of them with the default), oldest first, and its
    status. The widget polls this every couple of seconds to show agent replies as they come."""
    conversation = services.repo.get_conversation(session_id)
    if conversation is None:
        raise NotFoundError(f"unknown session {session_id!r}")
    turns = turns_after(services.repo, session_id, after)
    return MessagesOut(
        session_id=session_id,
        status=conversation.status,
        messages=[MessageOut.model_validate(turn) for turn in turns],
        last_seq=turns[-1].seq if turns else after,
    )
