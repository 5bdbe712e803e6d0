"""``kefu users set-password``: the way back in when the first admin's password was shown once and lost,
and the way to create the first admin; on SQLite and PostgreSQL ($KEFU_DATABASE_URL)."""

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli import app
from kefu.server.passwords import PASSWORD_FILE
from kefu.store import open_repository

runner = CliRunner()


@pytest.fixture()
def project(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEFU_DATABASE_URL", db_url)
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "kefu.yml").write_text("name: shop\n", encoding="utf-8")
    return tmp_path / "shop"


def _set(project: Path, username: str, *options: str, typed: str = "") -> tuple[int, str]:
    result = runner.invoke(app, ["users", "set-password", str(project), username, *options], input=typed)
    return result.exit_code, result.output


def test_a_first_admin_is_created_and_a_forgotten_password_replaced(project: Path, db_url: str) -> None:
    assert _set(project, "boss", typed="first-password\n") == (0, "created dashboard admin 'boss'\n")
    code, output = _set(project, "boss", typed="second-password\n")
    assert (code, output) == (0, "set the password of 'boss'\n")
    repo = open_repository(db_url)
    try:
        assert repo.authenticate("boss", "first-password") is None
        assert repo.authenticate("boss", "second-password").role == "admin"

        code, output = _set(project, "boss", "--generate")  # output captured: not a terminal
        path = project / PASSWORD_FILE
        username, password = path.read_text(encoding="utf-8").split()
        assert code == 0 and username == "boss" and password not in output and str(path) in output
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert repo.authenticate("boss", password) is not None
        assert [user.username for user in repo.list_users()] == ["boss"]
    finally:
        repo.store.dispose()


def test_set_password_errors_are_one_line(project: Path) -> None:
    assert _set(project, "boss", typed="first-password\n")[0] == 0
    for username, typed, message in (
        ("mei", "mei-password\n", "no dashboard user 'mei'; admins create users on the dashboard's Users page"),
        ("boss", "short\n", "the password needs at least 8 characters (got 5)"),
    ):
        code, output = _set(project, username, typed=typed)
        assert code == 1 and message in output and "Traceback" not in output, output
