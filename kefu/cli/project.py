"""Bot projects: `kefu init`, `validate` (a project or a data file), `test` and `serve`."""

import json
from pathlib import Path
from typing import Annotated

import typer

from kefu.cli.common import LabelCol, ProjectDir, TextCol, _one_line_errors, app, err, out


@app.command(epilog="Examples:\n\n  kefu init mybot\n\n  kefu init mybot --force   (rewrite the template files)")
@_one_line_errors
def init(
    project_dir: Annotated[Path, typer.Argument(help="Folder to create the bot project in")],
    force: Annotated[bool, typer.Option(help="Write into a non-empty folder, replacing template files")] = False,
) -> None:
    """Create a bilingual bot project (kefu.yml, data, domain, knowledge) from the online-shop template."""
    from kefu.project.scaffold import init_project

    root = init_project(project_dir, force=force)
    err.print(
        f"created {root}; next: kefu validate {root} && kefu train {root} && kefu test {root} && kefu serve {root}"
    )


@app.command(
    epilog="Examples:\n\n  kefu validate mybot            (a whole project)\n\n  kefu validate data/nlu.yml"
    "\n\n  kefu validate train.csv --strict"
)
@_one_line_errors
def validate(
    data: Annotated[Path, typer.Argument(help="A data file, or a bot project folder")],
    text_col: TextCol = None,
    label_col: LabelCol = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero on warnings too")] = False,
) -> None:
    """Check a data file or a whole bot project and list every problem with file and line."""
    if data.is_dir():
        _validate_project(data, strict)
        return
    from kefu.data import clean, load_examples, validate
    from kefu.problems import errors_only

    examples = load_examples(data, text_col=text_col, label_col=label_col)
    issues = validate(examples, source=str(data))
    for issue in issues:
        colour = "yellow" if issue.is_warning else "red"
        err.print(f"[{colour}]{issue.severity}:[/{colour}] {issue.located()}", highlight=False, soft_wrap=True)
    kept = clean(examples, issues)
    err.print(f"{len(examples)} examples read, {len(kept)} usable, {len({e.label for e in kept})} labels")
    if errors_only(issues) or (strict and issues):
        raise typer.Exit(1)


@app.command(
    "test",
    epilog="Examples:\n\n  kefu test mybot                          (every story in mybot/tests/*.yml)"
    "\n\n  kefu test mybot mybot/tests/refunds.yml   (only these files)"
    "\n\n  kefu test mybot --json > report.json      (each turn: file, line, story, passed, failures, observed)"
    "\n\nExit status: 0 when every turn passes, 1 when one fails, 2 for a malformed story file.",
)
@_one_line_errors
def test_stories(
    project_dir: ProjectDir,
    files: Annotated[
        list[Path] | None, typer.Argument(help="Story files (default: the project's tests/*.yml)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON on stdout")] = False,
) -> None:
    """Play conversation stories against the project's trained bot (on a throwaway database) and check
    every turn: intent, decision, handoff, slots, reply text, knowledge-base source."""
    from kefu.runtime.stories import run_project_stories
    from kefu.stories import StoryError

    try:
        report = run_project_stories(project_dir, files or None)
    except StoryError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        for failure in report.failures():
            out.print(failure.describe(), highlight=False, soft_wrap=True)
        out.print(report.summary(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _validate_project(root: Path, strict: bool) -> None:
    from kefu.problems import errors_only
    from kefu.project.validate import validate_project

    problems = validate_project(root)
    for problem in problems:
        colour = "yellow" if problem.is_warning else "red"
        err.print(f"[{colour}]{problem}[/{colour}]", highlight=False, soft_wrap=True)
    errors = errors_only(problems)
    err.print(f"{root}: {len(errors)} errors, {len(problems) - len(errors)} warnings")
    if errors or (strict and problems):
        raise typer.Exit(1)


@app.command(
    epilog="Examples:\n\n  kefu serve mybot\n\n  kefu serve mybot --host 0.0.0.0 --port 8080 --workers 4"
    "\n\n  KEFU_DATABASE_URL=postgresql+psycopg://kefu@db/kefu kefu serve mybot"
)
@_one_line_errors
def serve(
    project_dir: ProjectDir,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes sharing the port and the database")] = 1,
    train: Annotated[bool, typer.Option(help="Retrain first if the data or settings changed")] = True,
) -> None:
    """Serve a bot: chat API, web widget, and the admin dashboard for agents."""
    from kefu.server.serve import serve as run_server

    run_server(project_dir, host=host, port=port, workers=workers, train=train)
