"""Human signals on turns: the review queue (correct the intent of doubtful turns) and customer feedback.

Labelled reviews are training data: `review_queue('labelled')` lists the texts with their corrected
intents, ready to be exported next to the NLU data.

Unanswered turns are the customer turns queued because the bot could not answer them (reason 'fallback' or
'oos') and still pending: the questions a new intent could answer. `label_turns` labels many at once.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from kefu.store.base import RepositoryBase, check_one_of, check_page, check_positive
from kefu.store.errors import InvalidValueError, NotFoundError
from kefu.store.models import RATINGS, REVIEW_REASONS, REVIEW_STATUSES, Conversation, Feedback, Review, Turn
from kefu.store.records import FeedbackRecord, ReviewRecord, UnansweredTurn

UNANSWERED_REASONS = ("fallback", "oos")  # review reasons of turns the bot had no answer for
MAX_LABEL_TURNS = 1000  # turns one label_turns call may name


def _with_context() -> Select[tuple[Review, Turn, str]]:
    """Reviews joined to their turn and session id, what a reviewer needs to judge them."""
    return (
        select(Review, Turn, Conversation.session_id)
        .join(Turn, Review.turn_id == Turn.id)
        .join(Conversation, Turn.conversation_id == Conversation.id)
    )


def _review(session: Session, review_id: int) -> ReviewRecord:
    found = session.execute(_with_context().where(Review.id == review_id)).first()
    if found is None:
        raise NotFoundError(f"unknown review id {review_id}")
    return ReviewRecord.of(*found)


class ReviewsMixin(RepositoryBase):
    """Operations on the review queue and on feedback."""

    def add_review(self, turn_id: int, reason: str) -> ReviewRecord:
        """Queue a turn for review ('low_confidence', 'fallback' or 'oos'); see also add_turn(review=...)."""
        check_one_of("reason", reason, REVIEW_REASONS)
        with self.store.write() as session:
            if session.get(Turn, turn_id) is None:
                raise NotFoundError(f"unknown turn id {turn_id}")
            row = Review(turn_id=turn_id, reason=reason, status="pending", created_at=self.clock())
            session.add(row)
            session.flush()
            return _review(session, row.id)

    def review_queue(self, status: str = "pending", limit: int = 50, offset: int = 0) -> list[ReviewRecord]:
        """Reviews with `status`, oldest first, each with its turn's text, predicted intent and confidence."""
        check_one_of("status", status, REVIEW_STATUSES)
        check_page(limit, offset)
        stmt = _with_context().where(Review.status == status).order_by(Review.created_at, Review.id)
        with self.store.read() as session:
            return [ReviewRecord.of(*found) for found in session.execute(stmt.limit(limit).offset(offset))]

    def label_review(self, review_id: int, intent: str, reviewer_id: int | None) -> ReviewRecord:
        """Record the correct intent for the reviewed turn. A labelled review may be labelled again."""
        if not intent or not intent.strip():
            raise InvalidValueError("the corrected intent must not be empty")
        return self._decide(review_id, "labelled", intent.strip(), reviewer_id)

    def dismiss_review(self, review_id: int, reviewer_id: int | None = None) -> ReviewRecord:
        """Drop a review without a label (e.g. noise, or the prediction was right after all)."""
        return self._decide(review_id, "dismissed", None, reviewer_id)

    def _decide(
        self, review_id: int, status: str, intent: str | None, reviewer_id: int | None
    ) -> ReviewRecord:
        with self.store.write() as session:
            row = session.get(Review, review_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"unknown review id {review_id}")
            if reviewer_id is not None:
                self._user(session, reviewer_id)
            row.status, row.corrected_intent = status, intent
            row.reviewer_id, row.reviewed_at = reviewer_id, self.clock()
            session.flush()
            return _review(session, row.id)

    def unanswered_turns(self, days: int = 30, limit: int = 1000) -> list[UnansweredTurn]:
        """Customer turns of the last ``days`` UTC days (today included) waiting in the review queue because
        the bot could not answer them, newest first, at most ``limit``."""
        check_positive("limit", limit)
        stmt = (
            select(Turn.id, Conversation.session_id, Turn.text, Turn.intent, Turn.created_at)
            .join(Conversation, Turn.conversation_id == Conversation.id)
            .where(_unanswered(), Turn.created_at >= self._window(days)[0])
            .order_by(Turn.created_at.desc(), Turn.id.desc())
            .limit(limit)
        )
        with self.store.read() as session:
            return [UnansweredTurn(*row) for row in session.execute(stmt)]

    def count_unanswered(self, days: int = 30) -> int:
        """How many turns :meth:`unanswered_turns` would list without a limit."""
        stmt = (
            select(func.count())
            .select_from(Turn)
            .where(_unanswered(), Turn.created_at >= self._window(days)[0])
        )
        with self.store.read() as session:
            return int(session.scalar(stmt) or 0)

    def label_turns(self, turn_ids: Collection[int], intent: str, reviewer_id: int | None) -> list[int]:
        """Label the pending reviews of these turns with ``intent`` in one transaction, as
        :meth:`label_review` labels one; return the ids of the turns labelled, ascending. Turns without a
        pending review (unknown, or labelled or dismissed meanwhile) are left alone."""
        if not intent or not intent.strip():
            raise InvalidValueError("the corrected intent must not be empty")
        ids = sorted({int(i) for i in turn_ids})
        if not ids:
            raise InvalidValueError("name at least one turn")
        if len(ids) > MAX_LABEL_TURNS:
            raise InvalidValueError(f"at most {MAX_LABEL_TURNS} turns at once, not {len(ids)}")
        with self.store.write() as session:
            if reviewer_id is not None:
                self._user(session, reviewer_id)
            now = self.clock()
            rows = session.scalars(
                select(Review)
                .where(Review.turn_id.in_(ids), Review.status == "pending")
                .order_by(Review.id)
                .with_for_update()
            ).all()
            for row in rows:
                row.status, row.corrected_intent = "labelled", intent.strip()
                row.reviewer_id, row.reviewed_at = reviewer_id, now
            session.flush()
            return sorted({row.turn_id for row in rows})

    def add_feedback(self, turn_id: int, rating: int, comment: str | None = None) -> FeedbackRecord:
        """Store a customer's rating of a turn: +1 (helpful) or -1 (not helpful), with an optional comment."""
        check_one_of("rating", rating, RATINGS)
        with self.store.write() as session:
            if session.get(Turn, turn_id) is None:
                raise NotFoundError(f"unknown turn id {turn_id}")
            row = Feedback(turn_id=turn_id, rating=rating, comment=comment, created_at=self.clock())
            session.add(row)
            session.flush()
            return FeedbackRecord.of(row)


def _unanswered() -> ColumnElement[bool]:
    """SQL: a customer turn with a pending review for a reason that means the bot had no answer."""
    pending = exists().where(
        Review.turn_id == Turn.id, Review.status == "pending", Review.reason.in_(UNANSWERED_REASONS)
    )
    return (Turn.role == "customer") & pending
