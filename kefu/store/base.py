"""Shared plumbing of the repository mixins: the store, the clock, lookups and argument checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.store.columns import utcnow
from kefu.store.db import Store
from kefu.store.errors import InvalidValueError, NotFoundError
from kefu.store.models import CUSTOMER_ID_MAX, Conversation, Turn, User

CLIENT_MESSAGE_ID_MAX = Turn.__table__.c.client_message_id.type.length


class RepositoryBase:
    """Holds what every operation needs; stateless otherwise, so one instance serves all threads.

    `clock` returns the current UTC time; tests pass a fake one to build data on chosen days.
    `password_hasher` defaults to argon2's recommended parameters; tests pass a cheap one.
    """

    def __init__(
        self,
        store: Store,
        *,
        password_hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.hasher = password_hasher or PasswordHasher()
        self.clock = clock

    def _window(self, days: int) -> tuple[datetime, list[date]]:
        """The first instant of the last ``days`` UTC calendar days (today included), and those days,
        oldest first: the window of every analytics query."""
        check_positive("days", days)
        first = self.clock().astimezone(UTC).date() - timedelta(days=days - 1)
        start = datetime.combine(first, time(), tzinfo=UTC)
        return start, [first + timedelta(days=i) for i in range(days)]

    @staticmethod
    def _conversation(session: Session, session_id: str, *, lock: bool = False) -> Conversation:
        """The conversation with `session_id`, row-locked on PostgreSQL if `lock`; NotFoundError if none.

        SQLite ignores FOR UPDATE; there the write session's BEGIN IMMEDIATE already holds the lock.
        """
        stmt = select(Conversation).where(Conversation.session_id == session_id)
        if lock:
            stmt = stmt.with_for_update()
        conversation = session.scalars(stmt).one_or_none()
        if conversation is None:
            raise NotFoundError(f"unknown session {session_id!r}")
        return conversation

    @staticmethod
    def _user(session: Session, user_id: int) -> User:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError(f"unknown user id {user_id}")
        return user


def check_one_of(name: str, value: object, allowed: Iterable[object]) -> None:
    """Raise InvalidValueError unless `value` is one of `allowed` (the message lists them)."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidValueError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")


def check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{name} must be a positive integer, not {value!r}")


def check_customer_id(customer_id: str) -> None:
    """Raise InvalidValueError unless `customer_id` fits its column: a non-blank string of at most 128."""
    if not isinstance(customer_id, str) or not customer_id.strip() or len(customer_id) > CUSTOMER_ID_MAX:
        raise InvalidValueError(
            f"customer_id must be a non-blank string of at most {CUSTOMER_ID_MAX} characters"
        )


def check_client_message_id(client_message_id: str) -> None:
    """Raise InvalidValueError unless `client_message_id` fits its column: 1 to 64 characters."""
    if not isinstance(client_message_id, str) or not 1 <= len(client_message_id) <= CLIENT_MESSAGE_ID_MAX:
        raise InvalidValueError(
            f"client_message_id must be a string of 1 to {CLIENT_MESSAGE_ID_MAX} characters"
        )


def check_page(limit: int, offset: int) -> None:
    check_positive("limit", limit)
    if not isinstance(offset, int) or offset < 0:
        raise InvalidValueError(f"offset must be a non-negative integer, not {offset!r}")
