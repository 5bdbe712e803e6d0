"""`Repository`: every storage operation the server and the dialogue need, on one object.

Each method runs in its own short transaction, committed before it returns, and returns frozen
dataclasses from `kefu.store.records` (never live ORM objects). One instance is safe to share between
threads. The operations live in small modules by subject; this class only puts them together.
"""

from __future__ import annotations

import os

from argon2 import PasswordHasher
from sqlalchemy.engine import URL

from kefu.store.analytics import AnalyticsMixin
from kefu.store.conversations import ConversationsMixin
from kefu.store.db import Store
from kefu.store.handoff import HandoffMixin
from kefu.store.retention import RetentionMixin
from kefu.store.reviews import ReviewsMixin
from kefu.store.users import UsersMixin


class Repository(ConversationsMixin, HandoffMixin, ReviewsMixin, UsersMixin, AnalyticsMixin, RetentionMixin):
    """All operations on a `Store`: `Repository(Store(url))`, or `open_repository(url)` to also migrate."""


def open_repository(
    url: str | URL | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    migrate: bool = True,
    password_hasher: PasswordHasher | None = None,
) -> Repository:
    """A repository on `Store(url, path=path)`, migrated to the newest schema unless `migrate=False`."""
    store = Store(url, path=path)
    if migrate:
        store.migrate()
    return Repository(store, password_hasher=password_hasher)
