"""Conversations and their turns: create, save dialogue state, append turns, read history, search."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Row, bindparam, exists, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from kefu.conversation import CONVERSATION_STATUSES
from kefu.dialogue.state import without_slot_values
from kefu.store.base import (
    RepositoryBase,
    check_client_message_id,
    check_customer_id,
    check_one_of,
    check_page,
    check_positive,
)
from kefu.store.columns import dumps_json
from kefu.store.errors import InvalidValueError, NotFoundError
from kefu.store.models import (
    REVIEW_REASONS,
    TURN_ROLES,
    Conversation,
    HandoffTicket,
    Review,
    Turn,
)
from kefu.store.records import ConversationRecord, TurnRecord

# The keyword arguments `add_turn` accepts besides role and text: the NLU and dialogue annotations.
TURN_FIELDS = frozenset(
    {
        "intent",
        "confidence",
        "oos",
        "entities",
        "sentiment",
        "sentiment_score",
        "decision",
        "sources",
        "buttons",
        "model_version",
        "agent_id",
        "client_message_id",
    }
)

# The columns of a conversation that ConversationRecord holds, for reading one with Core (a chat turn
# does: the ORM's bookkeeping costs several times what SQLite takes to run the statement)
CONVERSATION_COLUMNS = tuple(Conversation.__table__.c[name] for name in ConversationRecord.__slots__)
# built once, the value a parameter: building a statement and its cache key costs more than running it
_TABLE = Conversation.__table__
_BY_SESSION_ID = select(*CONVERSATION_COLUMNS).where(_TABLE.c.session_id == bindparam("session_id"))
_NEW_CONVERSATION = insert(_TABLE).returning(_TABLE.c.id)


def conversation_record(row: Row, **changes: Any) -> ConversationRecord:
    """The record of a row of CONVERSATION_COLUMNS, with ``changes`` made to it."""
    values = row._asdict() | changes
    values["state"] = dict(values["state"] or {})
    return ConversationRecord(**values)


def turn_columns(given: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise a turn's NLU and dialogue fields (add_turn's keywords) into column values."""
    unknown = set(given) - TURN_FIELDS
    if unknown:
        raise TypeError(f"add_turn() got unknown fields: {', '.join(sorted(unknown))}")
    fields = dict(given)
    sentiment = fields.get("sentiment")
    if isinstance(sentiment, Mapping):
        fields["sentiment"] = sentiment.get("label")
        fields.setdefault("sentiment_score", sentiment.get("score"))
    # Model outputs are often numpy scalars, which the database drivers cannot bind.
    for name in ("confidence", "sentiment_score"):
        if fields.get(name) is not None:
            fields[name] = float(fields[name])
    if fields.get("oos") is not None:
        fields["oos"] = bool(fields["oos"])
    if fields.get("client_message_id") is not None:
        check_client_message_id(fields["client_message_id"])
    # Through JSON and back, so the returned record holds exactly what a later read will (lists, not
    # tuples or arrays), and an unserialisable value fails here with its name rather than in the driver.
    for name in ("entities", "sources", "buttons"):
        if fields.get(name) is not None:
            fields[name] = json.loads(dumps_json(fields[name]))
    return fields


def new_session_id() -> str:
    """A fresh public session id: 32 hex characters of a random UUID, unguessable."""
    return uuid.uuid4().hex


def new_access_key() -> tuple[str, str]:
    """A fresh secret for the client that starts a conversation, and its SHA-256 (hex), what is stored:
    the store alone does not let anyone read the conversation."""
    key = secrets.token_urlsafe(24)
    return key, _key_hash(key)


def may_access(conversation: ConversationRecord, key: str | None, customer_id: str | None) -> bool:
    """Whether a client holding ``key`` (and saying it is ``customer_id``) may read or continue the
    conversation: one with a key only with that key; one from before keys (migration 0003) only for its
    customer, so an anonymous one by its unguessable id alone, as then."""
    if conversation.access_key_hash is None:
        return conversation.customer_id is None or conversation.customer_id == customer_id
    return key is not None and hmac.compare_digest(_key_hash(key), conversation.access_key_hash)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def like_pattern(query: str) -> str:
    """`%query%` with LIKE's wildcards (and the escape character itself) in `query` escaped by a backslash."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ConversationsMixin(RepositoryBase):
    """Operations on conversations and turns."""

    def get_or_create_conversation(
        self,
        session_id: str | None = None,
        channel: str = "web",
        language: str | None = None,
        *,
        customer_id: str | None = None,
        access_key_hash: str | None = None,
    ) -> ConversationRecord:
        """The conversation `session_id`, or a new one with a fresh id when it is None or unknown.

        An unknown id is not adopted: clients must not choose session ids (they could guess others').
        `customer_id` (the site's id of a signed-in customer) is stored on a new conversation, and on a
        found one that has none yet. A conversation that belongs to a customer is continued only for that
        customer: any other caller (another customer, or nobody signed in) starts a new one, so a shared
        browser does not show one customer's conversation to the next. `access_key_hash` (see
        :func:`new_access_key`) is stored on a new conversation only.
        """
        if customer_id is not None:
            check_customer_id(customer_id)
        if session_id is not None:
            found = self._continued(session_id, customer_id)
            if found is not None:
                return found
        now = self.clock()
        while True:
            values = {"session_id": new_session_id(), "customer_id": customer_id, "channel": channel}
            values |= {"language": language, "status": "bot", "assigned_agent_id": None, "state": {}}
            values |= {"created_at": now, "updated_at": now, "access_key_hash": access_key_hash}
            try:
                with self.store.begin() as connection:
                    new_id = connection.execute(_NEW_CONVERSATION, values).scalar_one()
                    return ConversationRecord(id=new_id, **values)
            except IntegrityError:  # pragma: no cover - a 128-bit collision; just draw again
                continue

    def _continued(self, session_id: str, customer_id: str | None) -> ConversationRecord | None:
        """The conversation to continue, its customer set if it had none; None when it is unknown or
        belongs to another customer."""
        found = self.get_conversation(session_id)
        if found is None or found.customer_id == customer_id:
            return found
        if found.customer_id is not None:
            return None
        with self.store.write() as session:
            row = self._conversation(session, session_id, lock=True)
            # re-read under the lock: another request may have set a customer meanwhile
            row.customer_id = row.customer_id or customer_id
            session.flush()
            return ConversationRecord.of(row) if row.customer_id == customer_id else None

    def get_conversation(self, session_id: str) -> ConversationRecord | None:
        """The conversation with this session id, or None."""
        with self.store.connect() as connection:
            row = connection.execute(_BY_SESSION_ID, {"session_id": session_id}).first()
        return conversation_record(row) if row is not None else None

    def save_state(
        self, session_id: str, state: dict[str, Any], *, language: str | None = None
    ) -> ConversationRecord:
        """Replace the dialogue state (and set the language, if given); NotFoundError for an unknown id."""
        if not isinstance(state, dict):
            raise InvalidValueError(f"state must be a dict, not {type(state).__name__}")
        with self.store.write() as session:
            row = self._conversation(session, session_id, lock=True)
            # A new object (so the ORM sees a change even if the caller mutated the dict it read), and
            # through JSON so the returned record equals what a later read gets.
            row.state = json.loads(dumps_json(state))
            if language is not None:
                row.language = language
            row.updated_at = self.clock()
            session.flush()
            return ConversationRecord.of(row)

    def close_conversation(self, session_id: str, *, keep_slots: Collection[str] = ()) -> ConversationRecord:
        """Mark the conversation closed, close its open or claimed handoff tickets and delete the values
        of its slots except `keep_slots` (kefu.yml privacy.keep_slots): what the customer told the bot is
        not kept longer than the conversation needs it."""
        with self.store.write() as session:
            row = self._conversation(session, session_id, lock=True)
            now = self.clock()
            row.state = without_slot_values(row.state or {}, keep_slots)
            for ticket in session.scalars(
                select(HandoffTicket).where(
                    HandoffTicket.conversation_id == row.id, HandoffTicket.status != "closed"
                )
            ):
                ticket.status, ticket.closed_at, ticket.close_reason = "closed", now, "closed"
            row.status, row.updated_at = "closed", now
            session.flush()
            return ConversationRecord.of(row)

    def add_turn(
        self, session_id: str, role: str, text: str, *, review: str | None = None, **nlu_fields: Any
    ) -> TurnRecord:
        """Append a turn and return it with its `seq` (0, 1, 2 ... within the conversation).

        `nlu_fields` are any of TURN_FIELDS (intent, confidence, oos, entities, sentiment, sentiment_score,
        decision, sources, buttons, model_version, agent_id). `sentiment` is a label ('negative', ...) or a
        mapping {"label": ..., "score": ...}, split into sentiment and sentiment_score. numpy scalars are
        accepted anywhere. `review` ('low_confidence', 'fallback' or 'oos') also queues the turn for review,
        in the same transaction.

        Concurrent calls on one conversation get distinct seqs: the conversation row is locked (FOR UPDATE
        on PostgreSQL, the database write lock on SQLite) before the next seq is read.
        """
        check_one_of("role", role, TURN_ROLES)
        fields = turn_columns(nlu_fields)
        if review is not None:
            check_one_of("review", review, REVIEW_REASONS)
        with self.store.write() as session:
            conversation = self._conversation(session, session_id, lock=True)
            last = session.scalar(select(func.max(Turn.seq)).where(Turn.conversation_id == conversation.id))
            now = self.clock()
            row = Turn(
                conversation_id=conversation.id,
                seq=0 if last is None else last + 1,
                role=role,
                text=text,
                created_at=now,
                **fields,
            )
            session.add(row)
            conversation.updated_at = now
            session.flush()
            if review is not None:
                session.add(Review(turn_id=row.id, reason=review, status="pending", created_at=now))
            return TurnRecord.of(row, session_id)

    def history(self, session_id: str, limit: int = 20) -> list[TurnRecord]:
        """The last `limit` turns of the conversation, oldest first; NotFoundError for an unknown id."""
        check_positive("limit", limit)
        with self.store.read() as session:
            conversation = self._conversation(session, session_id)
            rows = session.scalars(
                select(Turn)
                .where(Turn.conversation_id == conversation.id)
                .order_by(Turn.seq.desc())
                .limit(limit)
            ).all()
            return [TurnRecord.of(row, session_id) for row in reversed(rows)]

    def turn(self, turn_id: int) -> TurnRecord:
        """One turn by id; NotFoundError if there is none."""
        with self.store.read() as session:
            found = session.execute(
                select(Turn, Conversation.session_id)
                .join(Conversation, Turn.conversation_id == Conversation.id)
                .where(Turn.id == turn_id)
            ).first()
            if found is None:
                raise NotFoundError(f"unknown turn id {turn_id}")
            return TurnRecord.of(found[0], found[1])

    def list_conversations(
        self, query: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[ConversationRecord]:
        """Conversations, most recently active first, optionally filtered.

        `query` matches a session id exactly or any turn's text as a case-insensitive substring (SQL LIKE;
        ASCII-only case folding on SQLite, which is moot for Chinese). `status` is one of
        CONVERSATION_STATUSES.
        """
        check_page(limit, offset)
        stmt = select(Conversation)
        if status is not None:
            check_one_of("status", status, CONVERSATION_STATUSES)
            stmt = stmt.where(Conversation.status == status)
        if query is not None and query.strip():
            query = query.strip()
            in_turns = exists().where(
                Turn.conversation_id == Conversation.id, Turn.text.ilike(like_pattern(query), escape="\\")
            )
            stmt = stmt.where(or_(Conversation.session_id == query, in_turns))
        stmt = (
            stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit).offset(offset)
        )
        with self.store.read() as session:
            return [ConversationRecord.of(row) for row in session.scalars(stmt)]
