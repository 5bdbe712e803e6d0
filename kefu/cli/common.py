"""What every `kefu` command shares: the Typer app, the consoles, argument types and one-line errors."""

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kefu.errors import KefuError

app = typer.Typer(
    help="kefu: train, evaluate and run customer-service intent models (Chinese and English).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
TextCol = Annotated[str | None, typer.Option(help="Text column name (auto-detected)")]
LabelCol = Annotated[str | None, typer.Option(help="Label column name (auto-detected)")]
ModelDir = Annotated[Path, typer.Argument(help="A model directory")]
ProjectDir = Annotated[Path, typer.Argument(help="A bot project folder (see kefu init)")]
Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        metavar="URL",
        help="Database URL (default: $KEFU_DATABASE_URL, else kefu.db in the project)",
    ),
]
out = Console()


def _one_line_errors(fn: Callable) -> Callable:
    """Show a KefuError as one line and exit 1, also under Typer's test runner."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KefuError as e:
            _fail(str(e))

    return wrapper


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)
