"""Stories through a real bot: bot_sender, a project's tests/ run on a throwaway database, `kefu test`."""

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from kefu.cli import app
from kefu.runtime import Bot
from kefu.runtime.stories import run_project_stories
from kefu.stories import Story, TurnExpectation, bot_sender, run_stories
from tests.support.project import WordEmbedder, project_copy

STORIES = """\
stories:
  - story: order status, number in the next message
    lang: en
    turns:
      - user: where is my order
        intent: order_status
        decision: form
        slots: {order_id: null}
      - user: A12345
        intent: order_status
        decision: reply
        slots: {order_id: A12345}
        reply_contains: A12345
        handoff: false
  - story: FAQ
    turns:
      - user: do you offer gift wrapping
        decision: kb
        source: faq.csv
        reply_contains: gift wrapping
  - story: a person, please
    turns:
      - user: 转人工
        intent: human_agent
        decision: handoff
        handoff: true
"""


def test_a_bot_answers_stories_with_what_it_stored(bot: Bot) -> None:
    send = bot_sender(bot)
    story = Story("order", "s.yml", 1, (
        TurnExpectation("track my order", 2, intent="order_status", decision=("form",), slots={"order_id": None}),
        TurnExpectation("B765432", 3, intent="order_status", decision=("reply",), slots={"order_id": "B765432"},
                        reply_contains=("B765432",), source=("none",), handoff=False),
        TurnExpectation("B765432", 4, decision=("form",), handoff=True),  # fails twice: it is answered again
    ))
    report = run_stories([story], send)
    first, second, third = report.results
    assert first.passed and second.passed, (first.failures, second.failures)
    assert third.failures == ["expected decision form, got reply", "expected handoff true, got false"]
    # the form's answer: the model's own guess for a bare number is kept apart from the intent acted on
    assert second.observed.intent == "order_status" and second.observed.session_id == first.observed.session_id
    assert second.observed.nlu_intent is not None and second.observed.confidence is not None


def test_a_fallback_reads_out_of_scope(bot: Bot) -> None:
    observed = bot_sender(bot)(None, "what is the weather tomorrow")
    assert (observed.decision, observed.intent, observed.handoff, observed.sources) == (
        "fallback", "out_of_scope", False, []
    )


def test_a_projects_stories_run_on_a_throwaway_database(tiny_project: Path, tmp_path: Path) -> None:
    project = project_copy(tiny_project, tmp_path / "shop")
    (project / "tests").mkdir()
    (project / "tests" / "stories.yml").write_text(STORIES, encoding="utf-8")
    report = run_project_stories(project, embedder=WordEmbedder())
    assert report.summary() == "3 stories, 4 turns: 4 passed, 0 failed", [f.describe() for f in report.failures()]
    assert not list(project.glob("kefu.db*"))  # the project's own database was never opened


def without_knowledge(tiny_project: Path, target: Path) -> Path:
    """A copy of the tiny project answering without its knowledge base: its index needs the test embedder,
    which the command line cannot be given."""
    project = project_copy(tiny_project, target)
    shutil.rmtree(project / "models" / "knowledge")
    shutil.rmtree(project / "knowledge")
    (project / "tests").mkdir()
    return project


runner = CliRunner()


def test_kefu_test_prints_each_failing_turn_and_exits_1(tiny_project: Path, tmp_path: Path) -> None:
    project = without_knowledge(tiny_project, tmp_path / "shop")
    stories = project / "tests" / "stories.yml"
    stories.write_text(STORIES.replace("decision: kb", "decision: [kb, fallback]"), encoding="utf-8")

    result = runner.invoke(app, ["test", str(project)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines == [
        (f'{stories}:17  story "FAQ" turn 1 "do you offer gift wrapping": expected source faq.csv, got no source; '
        "reply should contain \"gift wrapping\"; reply was \"Sorry, I didn't understand that.\""),
        "3 stories, 4 turns: 3 passed, 1 failed",
    ]

    result = runner.invoke(app, ["test", str(project), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["turns"], report["passed"], report["failed_stories"]) == (4, 3, ["FAQ"])
    assert report["results"][2]["observed"]["decision"] == "fallback" and not report["results"][2]["passed"]


def test_kefu_test_passes_named_files_and_refuses_malformed_ones(tiny_project: Path, tmp_path: Path) -> None:
    project = without_knowledge(tiny_project, tmp_path / "shop")
    good = tmp_path / "greet.yml"
    good.write_text("stories:\n  - story: hi\n    turns:\n      - user: hello\n        intent: greet\n", encoding="utf-8")
    result = runner.invoke(app, ["test", str(project), str(good)])
    assert (result.exit_code, result.output.strip()) == (0, "1 story, 1 turn: 1 passed, 0 failed")

    bad = project / "tests" / "bad.yml"
    bad.write_text("stories:\n  - story: hi\n    turns:\n      - user: hello\n        intent: greeet\n", encoding="utf-8")
    result = runner.invoke(app, ["test", str(project)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {bad}:5: intent: unknown intent 'greeet' (did you mean 'greet'?)"

    bad.unlink()
    result = runner.invoke(app, ["test", str(project)])
    assert (result.exit_code, result.output.strip()) == (2, f"error: {project / 'tests'}: no story files (*.yml)")
