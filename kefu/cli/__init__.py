"""The `kefu` command line: a thin shell over the library. Errors print one line and exit non-zero.

Each module registers the commands of one area on :data:`app` when it is imported.
"""

# isort: off
# the order of these imports is the order `kefu --help` lists the commands in
from kefu.cli import train, predict, project, admin, analysis  # noqa: F401 (imported for their commands)

# isort: on
from kefu.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()
