"""Running a bot's data: `kefu erase`, `purge` and the dashboard's `users`."""

import sys
from typing import Annotated

import typer

from kefu.cli.common import Database, ProjectDir, _fail, _one_line_errors, app, err, out


@app.command(
    epilog="Examples:\n\n  kefu erase mybot --customer u10086    (every conversation of a customer)"
    "\n\n  kefu erase mybot --session 9f1c2d3e4b5a69788796a5b4c3d2e1f0"
    "\n\n  kefu erase mybot --customer u10086 --database postgresql+psycopg://kefu@db/kefu"
)
@_one_line_errors
def erase(
    project_dir: ProjectDir,
    session: Annotated[
        str | None, typer.Option("--session", metavar="ID", help="Session id of one conversation")
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option("--customer", metavar="ID", help="Customer id the site sent to the chat API"),
    ] = None,
    database: Database = None,
) -> None:
    """Delete one conversation, or every conversation of a customer, with everything in them (their
    reviewed turns in data/reviewed.yml included)."""
    if (session is None) == (customer is None):
        _fail("give one of --session ID or --customer ID")
    from kefu.project import load_project

    erasure = _erasure(load_project(project_dir), database)
    try:
        if session is not None:
            if not erasure.delete_conversation(session):
                _fail(f"no conversation with session id {session!r}")
            out.print(f"deleted conversation {session}", highlight=False)
        else:
            deleted = erasure.erase_customer(customer)
            out.print(f"deleted {_conversations(deleted)} of customer {customer}", highlight=False)
    finally:
        erasure.repo.store.dispose()


@app.command(
    epilog="Examples:\n\n  kefu purge mybot            (privacy.retention_days of mybot/kefu.yml)"
    "\n\n  kefu purge mybot --days 30 --database postgresql+psycopg://kefu@db/kefu"
)
@_one_line_errors
def purge(
    project_dir: ProjectDir,
    days: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Delete conversations inactive for more than N days (default: kefu.yml "
            "privacy.retention_days)"
        ),
    ] = None,
    database: Database = None,
) -> None:
    """Delete conversations nobody has written in for the retention period, with everything in them (their
    reviewed turns in data/reviewed.yml included)."""
    from kefu.project import load_project

    project = load_project(project_dir)
    days = days or project.settings.privacy.retention_days
    if days is None:
        _fail(f"no retention period: pass --days N or set privacy.retention_days in {project.settings_file}")
    erasure = _erasure(project, database)
    try:
        deleted = erasure.purge_older_than(days)
    finally:
        erasure.repo.store.dispose()
    out.print(f"deleted {_conversations(deleted)} inactive for more than {days} days", highlight=False)


users_app = typer.Typer(help="Dashboard users: passwords.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command(
    "set-password",
    epilog="Examples:\n\n  kefu users set-password mybot admin    (asks for the new password twice)"
    "\n\n  kefu users set-password mybot admin --generate    (a random one, shown once)"
    "\n\n  printf '%s\\n' \"$NEW_PASSWORD\" | kefu users set-password mybot mei    (from stdin)"
    "\n\n  KEFU_DATABASE_URL=postgresql+psycopg://kefu@db/kefu kefu users set-password mybot admin",
)
@_one_line_errors
def set_password(
    project_dir: ProjectDir,
    username: Annotated[str, typer.Argument(help="The dashboard user; with no users yet, the first admin")],
    generate: Annotated[bool, typer.Option("--generate", help="Make up a random password and show it once")] = False,
    database: Database = None,
) -> None:
    """Set a dashboard user's password; on a database without users, create USERNAME as the first admin.
    The password is asked for on a terminal, else read as one line from stdin. A generated one is printed
    on a terminal, else written to the project's .kefu-admin-password file (mode 0600)."""
    from kefu.project import load_project
    from kefu.runtime import default_database_url
    from kefu.server.passwords import MIN_PASSWORD_CHARS, generated_password, show_password
    from kefu.server.passwords import set_password as give_password
    from kefu.store import open_repository

    root = load_project(project_dir).root
    if generate:
        password = generated_password()
    elif sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not generate and len(password) < MIN_PASSWORD_CHARS:
        _fail(f"the password needs at least {MIN_PASSWORD_CHARS} characters (got {len(password)})")
    repo = open_repository(database or default_database_url(root))
    try:
        created = give_password(repo, username, password)
    finally:
        repo.store.dispose()
    err.print(f"{'created dashboard admin' if created else 'set the password of'} {username!r}", highlight=False)
    if generate:
        show_password(username, password, root)


def _erasure(project, database: str | None):
    """Deletion from the store of the project's conversations (``database``, else the one its server
    uses) and from the project's files made of them."""
    from kefu.runtime import Erasure, default_database_url
    from kefu.store import open_repository

    return Erasure(open_repository(database or default_database_url(project.root)), project)


def _conversations(count: int) -> str:
    return f"{count} conversation{'' if count == 1 else 's'}"
