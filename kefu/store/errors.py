"""Errors of the storage layer, all under `kefu.errors.KefuError` so the CLI prints them as one line.

StoreError
 +-- NotFoundError      an unknown session id, ticket, review, turn or user
 +-- ConflictError      a duplicate username, or a ticket already claimed by another agent / closed
 +-- InvalidValueError  a role, status or rating outside its allowed values, a text with a NUL character
                        (also a ValueError)
"""

from kefu.errors import KefuError


class StoreError(KefuError):
    """The database cannot be reached or used; the message names the URL without its password."""


class NotFoundError(StoreError):
    """The requested row does not exist."""


class ConflictError(StoreError):
    """The operation clashes with the current state of the database."""


class InvalidValueError(StoreError, ValueError):
    """An argument is outside the values the schema allows."""
