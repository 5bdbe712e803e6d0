"""Bearer tokens, CSRF tokens, the signing secret and the first admin."""

import io
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kefu.errors import ConfigError
from kefu.server.app import ensure_first_admin
from kefu.server.passwords import PASSWORD_FILE
from kefu.server.security import csrf_matches, csrf_token, issue_token, load_secret, verify_token
from kefu.store import Repository, Store, UserRecord
from tests.support.store import CHEAP_HASHER

USER = UserRecord(7, "mei", "agent", datetime(2026, 1, 1, tzinfo=UTC))


def test_a_token_carries_the_user_and_is_checked() -> None:
    secret = b"0123456789abcdef0123"
    token, expires = issue_token(secret, USER)
    principal = verify_token(secret, token)
    assert principal is not None and (principal.user_id, principal.username, principal.role) == (
        7,
        "mei",
        "agent",
    )
    assert principal.expires == expires and not principal.is_admin
    payload, signature = token.split(".")
    assert verify_token(b"another secret entirely", token) is None
    assert verify_token(secret, payload + "." + signature[:-2] + "AA") is None
    forged, _ = issue_token(b"another secret entirely", UserRecord(7, "mei", "admin", USER.created_at))
    assert verify_token(secret, forged.split(".")[0] + "." + signature) is None
    assert verify_token(secret, issue_token(secret, USER, ttl=-1)[0]) is None
    assert verify_token(secret, "") is None and verify_token(secret, "a.b.c") is None


def test_tokens_of_the_same_second_differ_and_carry_the_users_token_version() -> None:
    secret = b"0123456789abcdef0123"
    first, second = issue_token(secret, USER)[0], issue_token(secret, USER)[0]
    assert first != second  # two sign-ins in one second are two sessions, each with its own CSRF token
    revoked = UserRecord(7, "mei", "agent", USER.created_at, token_version=3)
    assert verify_token(secret, first).version == 0 and verify_token(secret, issue_token(secret, revoked)[0]).version == 3


def test_a_csrf_token_belongs_to_one_session_under_one_secret() -> None:
    secret = b"0123456789abcdef0123"
    token, _ = issue_token(secret, USER)
    other, _ = issue_token(secret, UserRecord(8, "li", "agent", USER.created_at))
    csrf = csrf_token(secret, token)
    assert csrf_matches(secret, token, csrf) and csrf != csrf_token(secret, other)
    assert not csrf_matches(secret, other, csrf) and not csrf_matches(b"another secret entirely", token, csrf)
    assert not csrf_matches(secret, token, None) and not csrf_matches(secret, token, "é" + csrf[1:])
    assert verify_token(secret, token[:-1] + "é") is None  # not a TypeError from compare_digest


def test_the_secret_file_is_created_once_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEFU_SECRET", raising=False)
    first = load_secret(tmp_path)
    assert len(first) == 64 and load_secret(tmp_path) == first
    assert stat.S_IMODE((tmp_path / ".kefu-secret").stat().st_mode) == 0o600
    monkeypatch.setenv("KEFU_SECRET", "from-the-environment-123")
    assert load_secret(tmp_path) == b"from-the-environment-123"
    monkeypatch.setenv("KEFU_SECRET", "short")
    with pytest.raises(ConfigError, match="too short"):
        load_secret(tmp_path)


@pytest.fixture()
def repo(tmp_path: Path) -> Repository:
    store = Store(path=tmp_path / "kefu.db")
    store.migrate()
    return Repository(store, password_hasher=CHEAP_HASHER)


class Terminal(io.StringIO):
    """What a person watches: a stream that is a terminal."""

    def isatty(self) -> bool:
        return True


def test_the_first_admin_gets_a_random_password_shown_once_on_a_terminal(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEFU_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("KEFU_ADMIN_USER", raising=False)
    terminal = Terminal()
    ensure_first_admin(repo, tmp_path, terminal)
    password = terminal.getvalue().split("has the password ")[1].split()[0]
    assert repo.authenticate("admin", password).role == "admin"
    assert f"kefu users set-password {tmp_path} admin" in terminal.getvalue()
    assert not (tmp_path / PASSWORD_FILE).exists()
    again = Terminal()
    ensure_first_admin(repo, tmp_path, again)  # users exist: nothing happens, nothing is printed
    assert again.getvalue() == "" and len(repo.list_users()) == 1


def test_a_password_bound_for_a_log_file_goes_to_a_private_file_instead(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEFU_ADMIN_PASSWORD", raising=False)
    log = io.StringIO()  # stderr redirected to the server's log file: not a terminal
    ensure_first_admin(repo, tmp_path, log)
    path = tmp_path / PASSWORD_FILE
    username, password = path.read_text(encoding="utf-8").split()
    assert username == "admin" and repo.authenticate("admin", password).role == "admin"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password not in log.getvalue() and str(path) in log.getvalue()
    assert [p.name for p in tmp_path.iterdir() if PASSWORD_FILE in p.name] == [PASSWORD_FILE]  # no temp left


def test_the_first_admin_password_can_come_from_the_environment(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("KEFU_ADMIN_PASSWORD", "chosen-password")
    monkeypatch.setenv("KEFU_ADMIN_USER", "boss")
    ensure_first_admin(repo, tmp_path)
    assert "chosen-password" not in capsys.readouterr().err and not (tmp_path / PASSWORD_FILE).exists()
    assert repo.authenticate("boss", "chosen-password") is not None
