"""Dashboard users: creation with argon2 password hashes, and login."""

from __future__ import annotations

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kefu.store.base import RepositoryBase, check_one_of
from kefu.store.errors import ConflictError, InvalidValueError, NotFoundError
from kefu.store.models import USER_ROLES, User
from kefu.store.records import UserRecord

MAX_USERNAME = 64


def _clean_username(username: str) -> str:
    username = username.strip()
    if not username or len(username) > MAX_USERNAME:
        raise InvalidValueError(f"a username must have 1 to {MAX_USERNAME} characters")
    return username


class UsersMixin(RepositoryBase):
    """Operations on users. Passwords never leave this module; records carry no hash."""

    _dummy_hash: str | None = None

    def create_user(self, username: str, password: str, role: str = "agent") -> UserRecord:
        """Add a user; ConflictError if the username is taken. Only the argon2 hash is stored."""
        username = _clean_username(username)
        check_one_of("role", role, USER_ROLES)
        if not password:
            raise InvalidValueError("the password must not be empty")
        conflict = ConflictError(f"user {username!r} already exists")
        password_hash = self.hasher.hash(password)  # slow on purpose: outside the transaction
        try:
            with self.store.write() as session:
                if session.scalar(select(User.id).where(User.username == username)) is not None:
                    raise conflict
                row = User(username=username, password_hash=password_hash, role=role, created_at=self.clock())
                session.add(row)
                session.flush()
                return UserRecord.of(row)
        except IntegrityError:  # created by someone else between our check and our insert
            raise conflict from None

    def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The user if the password is right, else None (unknown user and wrong password alike).

        An unknown username still costs one hash verification, so response time does not reveal which
        usernames exist. A hash made with older parameters is upgraded on successful login.
        """
        with self.store.read() as session:
            row = session.scalars(select(User).where(User.username == username.strip())).first()
        if row is None:
            self._verify(self._dummy(), password)
            return None
        if not self._verify(row.password_hash, password):
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            self._store_hash(row.id, self.hasher.hash(password))
        return UserRecord.of(row)

    def set_password(self, user_id: int, password: str) -> None:
        """Replace a user's password, revoking the user's tokens as :meth:`revoke_tokens` does."""
        if not password:
            raise InvalidValueError("the password must not be empty")
        self._raise_token_version(user_id, password_hash=self.hasher.hash(password))

    def revoke_tokens(self, user_id: int) -> int:
        """Raise the user's token version, so that every token issued to it so far stops working; returns
        the new version. NotFoundError if there is no such user."""
        return self._raise_token_version(user_id)

    def token_version(self, user_id: int) -> int | None:
        """The version the user's valid tokens carry; None if there is no such user."""
        with self.store.read() as session:
            return session.scalar(select(User.token_version).where(User.id == user_id))

    def get_user(self, user_id: int) -> UserRecord:
        """One user by id; NotFoundError if there is none."""
        with self.store.read() as session:
            return UserRecord.of(self._user(session, user_id))

    def list_users(self) -> list[UserRecord]:
        """All users by username."""
        with self.store.read() as session:
            return [UserRecord.of(row) for row in session.scalars(select(User).order_by(User.username))]

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _store_hash(self, user_id: int, password_hash: str) -> None:
        with self.store.write() as session:
            self._user(session, user_id).password_hash = password_hash

    def _raise_token_version(self, user_id: int, **values: str) -> int:
        # one UPDATE: two sign-outs at once both raise it, neither overwrites the other with a stale value
        raise_it = (
            update(User)
            .where(User.id == user_id)
            .values(token_version=User.token_version + 1, **values)
            .returning(User.token_version)
        )
        with self.store.write() as session:
            version = session.scalar(raise_it)
        if version is None:
            raise NotFoundError(f"unknown user id {user_id}")
        return version

    def _dummy(self) -> str:
        # Made with this repository's hasher so it costs the same as a real verification.
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("kefu: no such user")
        return self._dummy_hash
