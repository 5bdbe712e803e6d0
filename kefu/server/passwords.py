"""Dashboard passwords kefu makes or sets: the first admin's, and ``kefu users set-password``.

A password kefu generated is shown once, and only where a person reads it: on a terminal it is printed;
anywhere else (stderr redirected to the server's log file, a container's log collector) it goes to
``.kefu-admin-password`` in the project folder, readable by this account alone, and the output names only
that file. A password never reaches a log.
"""

import os
import secrets
import sys
import time
from pathlib import Path
from typing import TextIO

from kefu.store import NotFoundError, Repository

PASSWORD_FILE = ".kefu-admin-password"
MIN_PASSWORD_CHARS = 8  # as the dashboard's user form requires


def generated_password() -> str:
    return secrets.token_urlsafe(12)


def reset_hint(project_dir: Path, username: str) -> str:
    return f"kefu users set-password {project_dir} {username}"


def show_password(username: str, password: str, project_dir: Path, stream: TextIO | None = None) -> None:
    """Tell a person ``username``'s new ``password``: printed to ``stream`` (default stderr) when it is a
    terminal, else written to the project's private password file whose path alone is printed."""
    stream = stream or sys.stderr
    reset = f"change it with: {reset_hint(project_dir, username)}"
    if stream.isatty():
        message = f"dashboard user {username!r} has the password {password}  (shown only once; {reset})"
    else:
        path = _write_private(Path(project_dir) / PASSWORD_FILE, f"{username}\n{password}\n")
        message = (f"the password of dashboard user {username!r} is in {path} (readable by this account "
                   f"only: read it, then delete the file; {reset})")
    print(f"kefu: {message}", file=stream, flush=True)


def set_password(repo: Repository, username: str, password: str) -> bool:
    """Give ``username`` the ``password``; True when that created the first admin (there were no users).

    NotFoundError for an unknown username while other users exist: those are created in the dashboard.
    """
    users = repo.list_users()
    user = next((user for user in users if user.username == username.strip()), None)
    if user is not None:
        repo.set_password(user.id, password)
        return False
    if users:
        raise NotFoundError(f"no dashboard user {username!r}; admins create users on the dashboard's Users page")
    repo.create_user(username, password, role="admin")
    return True


def _write_private(path: Path, text: str) -> Path:
    """``text`` in ``path``, mode 0600 from the first byte, replacing any older file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(tmp, path)
    return path.resolve()
