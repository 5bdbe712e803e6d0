"""Helpers shared by the store tests (plain module: conftest.py is not meant to be imported)."""

from datetime import datetime, timedelta

from argon2 import PasswordHasher

# Minimal argon2 cost: the tests check behaviour, not hashing strength, and must stay fast.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class FakeClock:
    """A settable UTC clock for the repository (`repo.clock`)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
