"""Write one customer message and the bot's answer to the store in a single transaction.

`kefu.store.Repository` offers one transaction per operation (add a turn, save the state, open a
ticket, queue a review). A turn needs all of them at once, and needs the conversation's status and
state read under the same lock that its writes hold: otherwise two messages of one conversation handled
by two workers at once could both start from the same state and one answer would be lost, and a crash
between the writes would leave a customer turn without its answer. This module is that one transaction,
written against the store's models; the dialogue decision runs inside it as a callback (it is pure and
takes well under a millisecond), while the slow parts (the model, the knowledge base) run before it.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.store import ConversationRecord, NotFoundError, Repository, TicketRecord, TurnRecord
from kefu.store.columns import dumps_json
from kefu.store.conversations import turn_columns
from kefu.store.models import Conversation, HandoffTicket, Review, Turn

MAX_MESSAGES = 200  # turns returned by one poll; the widget asks again for the rest


@dataclass
class BotTurn:
    """What the dialogue decided, in the shape the store keeps it."""

    text: str
    state: dict[str, Any]
    language: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # decision, intent, sources, buttons, model_version
    review: str | None = None  # queue the customer's turn for review ('fallback', 'oos', 'low_confidence')
    handoff_reason: str | None = None  # open a handoff ticket with this reason


@dataclass(frozen=True)
class Recorded:
    """The rows one exchange wrote, as read back inside its transaction."""

    conversation: ConversationRecord
    customer: TurnRecord
    bot: TurnRecord | None
    ticket: TicketRecord | None


Respond = Callable[[str, dict[str, Any]], BotTurn | None]


def record_exchange(
    repo: Repository, session_id: str, text: str, customer_fields: dict[str, Any], respond: Respond
) -> Recorded:
    """Append the customer's turn, then ``respond(status, state)``'s answer, in one transaction.

    ``respond`` sees the conversation's status and dialogue state as they are under the lock and returns
    the bot's turn, or None to stay silent (a human agent has the conversation).
    """
    with repo.store.write() as session:
        conversation = _locked(session, session_id)
        now = repo.clock()
        seq = _next_seq(session, conversation.id)
        customer = _turn(conversation.id, seq, "customer", text, now, customer_fields)
        session.add(customer)
        answer = respond(conversation.status, dict(conversation.state or {}))
        bot, ticket = None, None
        if answer is not None:
            bot = _turn(conversation.id, seq + 1, "bot", answer.text, now, answer.fields)
            session.add(bot)
            # through JSON, so what is stored equals what a later read returns
            conversation.state = json.loads(dumps_json(answer.state))
            if answer.language:
                conversation.language = answer.language
            if answer.handoff_reason:
                ticket = _open_ticket(session, conversation, answer.handoff_reason, now)
        conversation.updated_at = now
        session.flush()
        if answer is not None and answer.review:
            session.add(Review(turn_id=customer.id, reason=answer.review, status="pending", created_at=now))
        return Recorded(
            ConversationRecord.of(conversation),
            TurnRecord.of(customer, session_id),
            TurnRecord.of(bot, session_id) if bot is not None else None,
            TicketRecord.of(ticket, session_id) if ticket is not None else None,
        )


def turns_after(
    repo: Repository, session_id: str, after: int = -1, limit: int = MAX_MESSAGES
) -> list[TurnRecord]:
    """The conversation's turns with ``seq > after``, oldest first; NotFoundError for an unknown session."""
    with repo.store.read() as session:
        conversation_id = session.scalar(select(Conversation.id).where(Conversation.session_id == session_id))
        if conversation_id is None:
            raise NotFoundError(f"unknown session {session_id!r}")
        rows = session.scalars(
            select(Turn)
            .where(Turn.conversation_id == conversation_id, Turn.seq > after)
            .order_by(Turn.seq)
            .limit(limit)
        )
        return [TurnRecord.of(row, session_id) for row in rows]


def _locked(session: Session, session_id: str) -> Conversation:
    # FOR UPDATE on PostgreSQL; on SQLite the write transaction's BEGIN IMMEDIATE already holds the lock
    conversation = session.scalars(
        select(Conversation).where(Conversation.session_id == session_id).with_for_update()
    ).one_or_none()
    if conversation is None:
        raise NotFoundError(f"unknown session {session_id!r}")
    return conversation


def _next_seq(session: Session, conversation_id: int) -> int:
    last = session.scalar(select(func.max(Turn.seq)).where(Turn.conversation_id == conversation_id))
    return 0 if last is None else last + 1


def _turn(conversation_id: int, seq: int, role: str, text: str, now: Any, fields: dict[str, Any]) -> Turn:
    values = turn_columns(fields)
    return Turn(conversation_id=conversation_id, seq=seq, role=role, text=text, created_at=now, **values)


def _open_ticket(session: Session, conversation: Conversation, reason: str, now: Any) -> HandoffTicket:
    """The conversation's active ticket, or a new open one; the conversation waits for an agent."""
    ticket = session.scalars(
        select(HandoffTicket)
        .where(HandoffTicket.conversation_id == conversation.id, HandoffTicket.status != "closed")
        .order_by(HandoffTicket.id.desc())
    ).first()
    if ticket is None:
        ticket = HandoffTicket(
            conversation_id=conversation.id, reason=reason[:32], status="open", created_at=now
        )
        session.add(ticket)
        conversation.status = "handoff"
    return ticket
