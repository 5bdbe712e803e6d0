"""Users: argon2 hashes, login, duplicates."""

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from kefu.store import ConflictError, InvalidValueError, NotFoundError, Repository
from kefu.store.models import User


def _hash(repo, username):
    with repo.store.read() as session:
        return session.scalar(select(User.password_hash).where(User.username == username))


def test_create_and_authenticate(repo):
    user = repo.create_user("alice", "correct horse", "admin")
    assert (user.username, user.role) == ("alice", "admin")
    assert not hasattr(user, "password_hash")  # records never carry the hash
    stored = _hash(repo, "alice")
    assert stored != "correct horse" and "correct horse" not in stored and stored.startswith("$argon2id$")

    assert repo.authenticate("alice", "correct horse") == user
    assert repo.authenticate("alice", "wrong horse") is None
    assert repo.authenticate("mallory", "correct horse") is None
    assert repo.get_user(user.id) == user and repo.list_users() == [user]


def test_duplicate_username_is_a_clear_error(repo):
    repo.create_user("bob", "pw1")
    with pytest.raises(ConflictError, match="user 'bob' already exists"):
        repo.create_user(" bob ", "pw2")
    assert repo.authenticate("bob", "pw1") is not None


def test_invalid_users_are_refused(repo):
    with pytest.raises(InvalidValueError, match="role"):
        repo.create_user("carol", "pw", "root")
    with pytest.raises(InvalidValueError):
        repo.create_user("", "pw")
    with pytest.raises(InvalidValueError):
        repo.create_user("carol", "")


def test_outdated_hash_is_upgraded_at_login(repo):
    repo.create_user("dave", "pw")
    old = _hash(repo, "dave")
    stronger = Repository(
        repo.store, password_hasher=PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    )
    assert stronger.authenticate("dave", "pw") is not None
    new = _hash(repo, "dave")
    assert new != old and "t=2" in new
    assert stronger.authenticate("dave", "pw") is not None
    stronger.set_password(stronger.authenticate("dave", "pw").id, "pw2")
    assert stronger.authenticate("dave", "pw") is None and stronger.authenticate("dave", "pw2") is not None


def test_signing_out_and_a_new_password_raise_the_token_version(repo):
    user = repo.create_user("erin", "pw")
    assert user.token_version == 0 and repo.token_version(user.id) == 0
    assert repo.revoke_tokens(user.id) == 1
    repo.set_password(user.id, "pw2")  # also what `kefu users set-password` does
    assert repo.token_version(user.id) == 2 and repo.authenticate("erin", "pw2").token_version == 2
    assert repo.token_version(user.id + 1) is None  # no such user: its tokens stand for no one
    with pytest.raises(NotFoundError):
        repo.revoke_tokens(user.id + 1)
