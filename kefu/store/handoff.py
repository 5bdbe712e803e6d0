"""Handoff to human agents: open a ticket, let an agent claim it, hand the conversation back to the bot.

Conversation status follows the ticket: 'bot' -> 'handoff' (ticket open, waiting for an agent) ->
'human' (claimed; the bot stays quiet) -> 'bot' again on release. A ticket records why it was closed
(`close_reason`): an agent released it, the conversation was closed, or - decided by the bot's turn,
see kefu.runtime.recording - the customer withdrew or waited past the timeout. A conversation has at most one ticket
that is not closed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.store.base import RepositoryBase, check_one_of, check_page
from kefu.store.errors import ConflictError, InvalidValueError, NotFoundError
from kefu.store.models import TICKET_STATUSES, Conversation, HandoffTicket
from kefu.store.records import ConversationRecord, TicketRecord


def _active_ticket(session: Session, conversation_id: int) -> HandoffTicket | None:
    """The conversation's open or claimed ticket, if any (row-locked on PostgreSQL)."""
    return session.scalars(
        select(HandoffTicket)
        .where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.status != "closed")
        .order_by(HandoffTicket.id.desc())
        .with_for_update()
    ).first()


class HandoffMixin(RepositoryBase):
    """Operations on handoff tickets."""

    def open_handoff(self, session_id: str, reason: str) -> TicketRecord:
        """Ask for a human: an open ticket and status 'handoff'.

        Idempotent: if the conversation already has an open or claimed ticket, that one is returned
        unchanged (a customer who asks twice is not queued twice). `reason` is free text such as
        'requested', 'fallbacks' or 'sentiment'.
        """
        if not reason:
            raise InvalidValueError("a handoff needs a reason")
        with self.store.write() as session:
            conversation = self._conversation(session, session_id, lock=True)
            ticket = _active_ticket(session, conversation.id)
            if ticket is None:
                now = self.clock()
                ticket = HandoffTicket(
                    conversation_id=conversation.id, reason=reason, status="open", created_at=now
                )
                session.add(ticket)
                conversation.status, conversation.updated_at = "handoff", now
                session.flush()
            return TicketRecord.of(ticket, session_id)

    def claim(self, ticket_or_session: int | str, agent_id: int) -> TicketRecord:
        """An agent takes a conversation: ticket 'claimed', conversation 'human' and assigned to the agent.

        `ticket_or_session` is a ticket id (int) or a session id (str). Given a session without an open
        ticket, the agent takes over unasked: a ticket with reason 'agent' is created already claimed.
        Claiming again by the same agent is a no-op; a ticket claimed by another agent or closed raises
        ConflictError.
        """
        with self.store.write() as session:
            self._user(session, agent_id)
            if isinstance(ticket_or_session, str):
                conversation = self._conversation(session, ticket_or_session, lock=True)
                ticket = _active_ticket(session, conversation.id)
                if ticket is None:
                    ticket = HandoffTicket(
                        conversation_id=conversation.id,
                        reason="agent",
                        status="open",
                        created_at=self.clock(),
                    )
                    session.add(ticket)
            else:
                ticket = session.get(HandoffTicket, ticket_or_session)
                if ticket is None:
                    raise NotFoundError(f"unknown handoff ticket {ticket_or_session}")
                # Lock the conversation before the ticket, the order every other operation uses, so two
                # of them on one conversation cannot deadlock; then re-read the ticket under the lock.
                conversation = session.get(
                    Conversation, ticket.conversation_id, with_for_update=True, populate_existing=True
                )
                assert conversation is not None  # guaranteed by the foreign key
                session.refresh(ticket, with_for_update=True)
            if ticket.status == "closed":
                raise ConflictError(f"handoff ticket {ticket.id} is already closed")
            if ticket.status == "claimed" and ticket.agent_id != agent_id:
                raise ConflictError(
                    f"handoff ticket {ticket.id} is already claimed by agent {ticket.agent_id}"
                )
            now = self.clock()
            if ticket.status == "open":
                ticket.status, ticket.agent_id, ticket.claimed_at = "claimed", agent_id, now
            conversation.status = "human"
            conversation.assigned_agent_id = agent_id
            conversation.updated_at = now
            session.flush()
            return TicketRecord.of(ticket, conversation.session_id)

    def release_to_bot(self, session_id: str, reason: str = "released") -> ConversationRecord:
        """Give the conversation back to the bot: its active ticket closed with `reason` (an agent
        handed it back: 'released'), status 'bot', no agent.

        The dialogue state is left as it is; the caller resets e.g. the fallback count if it wants to.
        """
        with self.store.write() as session:
            conversation = self._conversation(session, session_id, lock=True)
            now = self.clock()
            ticket = _active_ticket(session, conversation.id)
            if ticket is not None:
                ticket.status, ticket.closed_at, ticket.close_reason = "closed", now, reason
            conversation.status = "bot"
            conversation.assigned_agent_id = None
            conversation.updated_at = now
            session.flush()
            return ConversationRecord.of(conversation)

    def inbox(
        self, status: str = "open", *, agent_id: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[TicketRecord]:
        """Tickets with `status` ('open', 'claimed', 'closed'), optionally one agent's: oldest first (a queue),
        closed ones most recently closed first."""
        check_one_of("status", status, TICKET_STATUSES)
        check_page(limit, offset)
        stmt = (
            select(HandoffTicket, Conversation.session_id)
            .join(Conversation, HandoffTicket.conversation_id == Conversation.id)
            .where(HandoffTicket.status == status)
        )
        if agent_id is not None:
            stmt = stmt.where(HandoffTicket.agent_id == agent_id)
        if status == "closed":
            stmt = stmt.order_by(HandoffTicket.closed_at.desc(), HandoffTicket.id.desc())
        else:
            stmt = stmt.order_by(HandoffTicket.created_at, HandoffTicket.id)
        stmt = stmt.limit(limit).offset(offset)
        with self.store.read() as session:
            return [TicketRecord.of(ticket, sid) for ticket, sid in session.execute(stmt)]
