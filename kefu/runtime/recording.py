"""Write one customer message and the bot's answer to the store in a single transaction.

`kefu.store.Repository` offers one transaction per operation (add a turn, save the state, open a
ticket, queue a review). A turn needs all of them at once, and needs the conversation's status and
state read under the same lock that its writes hold: otherwise two messages of one conversation handled
by two workers at once could both start from the same state and one answer would be lost, and a crash
between the writes would leave a customer turn without its answer. This module is that one transaction,
written against the store's models; the dialogue decision runs inside it as a callback (it is pure and
takes well under a millisecond), while the slow parts (the model, the knowledge base) run before it.

Every chat message goes through here, so it is written in SQLAlchemy Core: the ORM's unit of work costs
several times what SQLite takes to run the few statements, all of it while holding the write lock that
the other server processes wait for.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from kefu.store import ConversationRecord, NotFoundError, Repository, TicketRecord, TurnRecord
from kefu.store.columns import dumps_json
from kefu.store.conversations import CONVERSATION_COLUMNS, conversation_record, turn_columns
from kefu.store.models import Conversation, HandoffTicket, Review, Turn

MAX_MESSAGES = 200  # turns returned by one poll; the widget asks again for the rest

# Built once, on the tables (not the ORM classes), with the values as parameters: building a statement
# and its cache key costs more than running it
_CONVERSATIONS, _TURNS = Conversation.__table__, Turn.__table__
_TICKETS, _REVIEWS = HandoffTicket.__table__, Review.__table__
# FOR UPDATE on PostgreSQL; on SQLite the write transaction's BEGIN IMMEDIATE already holds the lock
_LOCKED = (
    select(*CONVERSATION_COLUMNS)
    .where(_CONVERSATIONS.c.session_id == bindparam("session_id"))
    .with_for_update()
)
_LAST_SEQ = select(func.max(_TURNS.c.seq)).where(_TURNS.c.conversation_id == bindparam("conversation_id"))
_ADD_TURN = insert(_TURNS).returning(_TURNS.c.id)
_UPDATE = update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
_ACTIVE_TICKET = (
    select(*(_TICKETS.c[name] for name in TicketRecord.__slots__ if name != "session_id"))
    .where(_TICKETS.c.conversation_id == bindparam("conversation_id"), _TICKETS.c.status != "closed")
    .order_by(_TICKETS.c.id.desc())
)
_OPEN_TICKET = insert(_TICKETS).returning(_TICKETS.c.id)
_CLOSE_TICKETS = (
    update(_TICKETS)
    .where(_TICKETS.c.conversation_id == bindparam("of"), _TICKETS.c.status != "closed")
    .values(status="closed", closed_at=bindparam("closed"), close_reason=bindparam("why"))
)
_ADD_REVIEW = insert(_REVIEWS)
_TURN_COLUMNS = tuple(_TURNS.c[name] for name in TurnRecord.__slots__ if name != "session_id")
_SENT_BEFORE = select(*_TURN_COLUMNS).where(
    _TURNS.c.conversation_id == bindparam("conversation_id"),
    _TURNS.c.client_message_id == bindparam("client_message_id"),
)
_ANSWER = select(*_TURN_COLUMNS).where(
    _TURNS.c.conversation_id == bindparam("conversation_id"),
    _TURNS.c.seq == bindparam("seq"),
    _TURNS.c.role == "bot",
)


@dataclass
class BotTurn:
    """What the dialogue decided, in the shape the store keeps it."""

    text: str
    state: dict[str, Any]
    language: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # decision, intent, sources, buttons, model_version
    review: str | None = None  # queue the customer's turn for review ('fallback', 'oos', 'low_confidence')
    handoff_reason: str | None = None  # open a handoff ticket with this reason
    close_reason: str | None = None  # close the waiting ticket with this reason: the bot answers again


@dataclass(frozen=True)
class Recorded:
    """The rows one exchange wrote, as read back inside its transaction."""

    conversation: ConversationRecord
    customer: TurnRecord
    bot: TurnRecord | None
    ticket: TicketRecord | None
    replayed: bool = False  # the message was recorded before (same client_message_id): nothing was written


Respond = Callable[[str, dict[str, Any]], BotTurn | None]


def record_exchange(
    repo: Repository,
    session_id: str,
    text: str,
    customer_fields: dict[str, Any],
    respond: Respond,
    *,
    client_message_id: str | None = None,
) -> Recorded:
    """Append the customer's turn, then ``respond(status, state)``'s answer, in one transaction.

    ``respond`` sees the conversation's status and dialogue state as they are under the lock and returns
    the bot's turn, or None to stay silent (a human agent has the conversation). A message whose
    ``client_message_id`` the conversation already has is not recorded again: the exchange recorded
    then is returned (``replayed``), and ``respond`` is not called. A transaction whose connection
    dropped before COMMIT runs again, ``respond`` included, once (see `Store.retrying`).
    """
    work = partial(_record_exchange, repo, session_id, text, customer_fields, respond, client_message_id)
    return repo.store.retrying(work)


def _record_exchange(
    repo: Repository,
    session_id: str,
    text: str,
    customer_fields: dict[str, Any],
    respond: Respond,
    client_message_id: str | None,
) -> Recorded:
    with repo.store.begin() as db:
        conversation = _locked(db, session_id)
        if client_message_id is not None:
            # under the lock: of two resends at once, the second finds the first one's turns
            before = _sent_before(db, conversation_record(conversation), client_message_id)
            if before is not None:
                return before
            customer_fields = customer_fields | {"client_message_id": client_message_id}
        now = repo.clock()
        seq = _next_seq(db, conversation.id)
        customer = _add_turn(db, session_id, conversation.id, seq, "customer", text, now, customer_fields)
        answer = respond(conversation.status, dict(conversation.state or {}))
        changes: dict[str, Any] = {"updated_at": now}
        bot, ticket = None, None
        if answer is not None:
            bot = _add_turn(db, session_id, conversation.id, seq + 1, "bot", answer.text, now, answer.fields)
            # through JSON, so what is stored equals what a later read returns
            changes["state"] = json.loads(dumps_json(answer.state))
            if answer.language:
                changes["language"] = answer.language
            if answer.close_reason:
                why = {"of": conversation.id, "closed": now, "why": answer.close_reason[:32]}
                db.execute(_CLOSE_TICKETS, why)
                changes["status"] = "bot"
            if answer.handoff_reason:
                ticket, opened = _open_ticket(db, session_id, conversation.id, answer.handoff_reason, now)
                if opened:  # the conversation waits for an agent
                    changes["status"] = "handoff"
        db.execute(_UPDATE, {"conversation_id": conversation.id, **changes})
        if answer is not None and answer.review:
            review = {"turn_id": customer.id, "reason": answer.review, "status": "pending", "created_at": now}
            db.execute(_ADD_REVIEW, review)
        return Recorded(conversation_record(conversation, **changes), customer, bot, ticket)


def sent_before(
    repo: Repository, conversation: ConversationRecord, client_message_id: str
) -> Recorded | None:
    """The exchange recorded for the conversation's message ``client_message_id``, or None: a resend is
    answered without the model."""
    with repo.store.connect() as db:
        return _sent_before(db, conversation, client_message_id)


def turns_after(
    repo: Repository, session_id: str, after: int = -1, limit: int = MAX_MESSAGES
) -> list[TurnRecord]:
    """The conversation's turns with ``seq > after``, oldest first; NotFoundError for an unknown session."""
    with repo.store.read() as session:
        conversation_id = session.scalar(select(Conversation.id).where(Conversation.session_id == session_id))
        if conversation_id is None:
            raise NotFoundError("unknown session")  # not the id: a client may have sent any text as one
        rows = session.scalars(
            select(Turn)
            .where(Turn.conversation_id == conversation_id, Turn.seq > after)
            .order_by(Turn.seq)
            .limit(limit)
        )
        return [TurnRecord.of(row, session_id) for row in rows]


def _sent_before(
    db: Connection, conversation: ConversationRecord, client_message_id: str
) -> Recorded | None:
    params = {"conversation_id": conversation.id, "client_message_id": client_message_id}
    customer = db.execute(_SENT_BEFORE, params).first()
    if customer is None:
        return None
    # the bot's answer is the turn right after, in the same transaction; none while an agent had the chat
    answer = db.execute(_ANSWER, {"conversation_id": conversation.id, "seq": customer.seq + 1}).first()
    session_id = conversation.session_id
    return Recorded(
        conversation,
        TurnRecord(session_id=session_id, **customer._asdict()),
        TurnRecord(session_id=session_id, **answer._asdict()) if answer is not None else None,
        None,
        replayed=True,
    )


def _locked(db: Connection, session_id: str) -> Row:
    conversation = db.execute(_LOCKED, {"session_id": session_id}).first()
    if conversation is None:
        raise NotFoundError(f"unknown session {session_id!r}")
    return conversation


def _next_seq(db: Connection, conversation_id: int) -> int:
    last = db.scalar(_LAST_SEQ, {"conversation_id": conversation_id})
    return 0 if last is None else last + 1


def _add_turn(
    db: Connection,
    session_id: str,
    conversation_id: int,
    seq: int,
    role: str,
    text: str,
    now: Any,
    fields: dict[str, Any],
) -> TurnRecord:
    values = {"seq": seq, "role": role, "text": text, "created_at": now} | turn_columns(fields)
    turn_id = db.execute(_ADD_TURN, {"conversation_id": conversation_id, **values}).scalar_one()
    return TurnRecord(id=turn_id, session_id=session_id, **values)


def _open_ticket(
    db: Connection, session_id: str, conversation_id: int, reason: str, now: Any
) -> tuple[TicketRecord, bool]:
    """The conversation's active ticket, or a new open one; and whether it is new."""
    active = db.execute(_ACTIVE_TICKET, {"conversation_id": conversation_id}).first()
    if active is not None:
        return TicketRecord(active.id, session_id, *active[1:]), False
    values = {"conversation_id": conversation_id, "reason": reason[:32], "status": "open", "created_at": now}
    ticket_id = db.execute(_OPEN_TICKET, values).scalar_one()
    return TicketRecord(ticket_id, session_id, values["reason"], "open", None, now, None, None, None), True
