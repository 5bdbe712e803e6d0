import json
from datetime import timedelta

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from kefu.cli import app
from kefu.store import Repository, open_repository
from kefu.store.columns import utcnow
from tests.support.store import FakeClock, leaks

runner = CliRunner()


def registered_commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The command line of every command and sub-command registered on ``group``."""
    found = []
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found += registered_commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_every_command_has_help_with_examples():
    commands = registered_commands(typer.main.get_group(app))
    # the walk sees them all (so that an empty one passes nothing), those added since the list was by hand too
    assert {("train",), ("discover",), ("analyze",), ("users", "set-password")} <= set(commands)
    assert len(commands) == 16
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.output, command


def test_train_evaluate_predict(tmp_path, tiny_examples):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"text": e.text, "intent": e.label}, ensure_ascii=False) for e in tiny_examples))
    config = tmp_path / "c.yml"
    config.write_text("dim: 32\nlayers: 1\nheads: 2\nepochs: 40\nlr: 0.003\nval_fraction: 0.0\nvocab_size: 200\n")
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", str(data), "--out", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file()

    result = runner.invoke(app, ["evaluate", str(out), str(data), "--json", "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["n"] == len(tiny_examples) and report["accuracy"] == 1.0
    assert {"macro_f1", "per_label"} <= report.keys()
    assert (tmp_path / "r" / "index.html").is_file()

    result = runner.invoke(app, ["predict", str(out), "--json"], input="我要退款\nhello\n")
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [x["intent"] for x in lines] == ["refund", "greet"]
    assert {"text", "intent", "confidence", "ranking"} <= lines[0].keys()

    result = runner.invoke(app, ["shell", str(out)], input="where is my order\nexit\n")
    assert result.exit_code == 0 and "order_status" in result.output


def test_bad_data_is_one_line_with_file_and_line(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("text,intent\nhello,greet\nhi,greet\n")  # a single label
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "bad.csv" in result.output and "at least two labels" in result.output
    assert "Traceback" not in result.output


def test_validate_lists_warnings_with_lines(tmp_path):
    data = tmp_path / "v.csv"
    data.write_text("text,intent\nhello,greet\nhello,bye\nbye now,bye\nhi,greet\n")
    result = runner.invoke(app, ["validate", str(data)])
    assert result.exit_code == 0
    assert "v.csv:2" in result.output and "v.csv:3" in result.output
    assert runner.invoke(app, ["validate", str(data), "--strict"]).exit_code == 1


def test_missing_model_dir(tmp_path):
    result = runner.invoke(app, ["predict", str(tmp_path / "nope"), "hi"])
    assert result.exit_code == 1 and "not a model directory" in result.output


def test_init_then_validate_a_project_and_refuse_to_overwrite(tmp_path):
    root = tmp_path / "bot"
    result = runner.invoke(app, ["init", str(root)])
    assert result.exit_code == 0, result.output
    assert (root / "kefu.yml").is_file() and (root / "domain.yml").is_file()
    result = runner.invoke(app, ["validate", str(root)])
    assert result.exit_code == 0 and "0 errors" in result.output
    assert runner.invoke(app, ["init", str(root)]).exit_code == 1
    domain = root / "domain.yml"
    domain.write_text(domain.read_text(encoding="utf-8").replace("{order_id}", "{order_number}"), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(root)])
    assert result.exit_code == 1
    assert "domain.yml:" in result.output and "order_number" in result.output


def test_train_with_sentiment_then_evaluate_and_predict_show_it(tmp_path, tiny_examples):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"text": e.text, "intent": e.label}, ensure_ascii=False) for e in tiny_examples))
    moods = tmp_path / "s.csv"
    rows = [("太差了", "negative"), ("气死我了", "negative"), ("terrible service", "negative"),
            ("几点开门", "neutral"), ("how do I pay", "neutral"), ("运费多少", "neutral"),
            ("太好了谢谢", "positive"), ("great, thanks", "positive"), ("非常满意", "positive")]
    moods.write_text("sentence,sentiment\n" + "\n".join(f'"{t}",{m}' for t, m in rows) + "\n")  # quoted: "great, thanks"
    config = tmp_path / "c.yml"
    config.write_text("dim: 32\nlayers: 1\nheads: 2\nepochs: 40\nlr: 0.003\nval_fraction: 0.0\nvocab_size: 200\n")
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", str(data), "--sentiment", str(moods), "--out", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "9 sentiment examples" in result.output

    result = runner.invoke(app, ["evaluate", str(out), str(data), "--sentiment", str(moods), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["sentiment"]["n"] == 9 and report["sentiment"]["accuracy"] >= 8 / 9

    result = runner.invoke(app, ["predict", str(out)], input="气死我了\n")
    assert result.exit_code == 0 and "negative 0." in result.output
    line = json.loads(runner.invoke(app, ["predict", str(out), "--json", "气死我了"]).stdout)
    assert line["sentiment"]["label"] == "negative"


def test_evaluating_sentiment_of_a_model_without_that_head_is_one_clear_line(tmp_path, saved_model, tiny_examples):
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "\n".join(f"{e.text},{e.label}" for e in tiny_examples) + "\n")
    result = runner.invoke(app, ["evaluate", str(saved_model), str(data), "--sentiment", str(data)])
    assert result.exit_code == 1 and "no sentiment head" in result.output


def test_predict_explain_scores_each_word(saved_model):
    result = runner.invoke(app, ["predict", str(saved_model), "--explain", "我要退款 please"])
    assert result.exit_code == 0, result.output
    words = result.stdout.strip().splitlines()[-1].split()
    assert words[0] == "refund:" and words[1::2] == ["我", "要", "退", "款", "please"]
    scores = words[2::2]
    assert len(scores) == 5 and all(s[0] in "+-" and float(s) < 1 for s in scores)

    line = json.loads(runner.invoke(app, ["predict", str(saved_model), "--json", "--explain", "hello"]).stdout)
    assert line["explanation"]["intent"] == line["intent"] == "greet" and line["explanation"]["method"] == "ig"
    assert [w["token"] for w in line["explanation"]["tokens"]] == ["hello"]
    plain = json.loads(runner.invoke(app, ["predict", str(saved_model), "--json", "hello"]).stdout)
    assert "explanation" not in plain


def _project_with_conversations(root, settings="name: shop\n"):
    """A project folder (settings only) whose kefu.db holds three customers' conversations, one 40 days old."""
    root.mkdir()
    (root / "kefu.yml").write_text(settings, encoding="utf-8")
    repo = open_repository(f"sqlite:///{root / 'kefu.db'}")
    past = Repository(repo.store, clock=FakeClock(utcnow() - timedelta(days=40)))
    sessions = {}
    for name, source in (("old", past), ("u-1", repo), ("u-2", repo)):
        sessions[name] = source.get_or_create_conversation(None, customer_id=name).session_id
        source.add_turn(sessions[name], "customer", f"message of {name}")
    return repo, sessions


def test_erase_a_customer_or_a_session(tmp_path):
    repo, sessions = _project_with_conversations(tmp_path / "shop")
    result = runner.invoke(app, ["erase", str(tmp_path / "shop"), "--customer", "u-1"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 conversation of customer u-1" in result.stdout
    assert leaks(repo.store, ["message of u-1", sessions["u-1"]]) == []
    result = runner.invoke(app, ["erase", str(tmp_path / "shop"), "--session", sessions["u-2"]])
    assert result.exit_code == 0 and f"deleted conversation {sessions['u-2']}" in result.stdout
    again = runner.invoke(app, ["erase", str(tmp_path / "shop"), "--customer", "u-1"])
    assert again.exit_code == 0 and "deleted 0 conversations of customer u-1" in again.stdout
    # --database instead of the project's own kefu.db
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "kefu.yml").write_text("name: other\n", encoding="utf-8")
    database = ["--database", f"sqlite:///{tmp_path / 'shop' / 'kefu.db'}"]
    result = runner.invoke(app, ["erase", str(tmp_path / "other"), "--customer", "old", *database])
    assert result.exit_code == 0 and "deleted 1 conversation of customer old" in result.stdout
    assert repo.list_conversations() == []
    repo.store.dispose()


def test_erase_errors_are_one_line(tmp_path):
    repo, _ = _project_with_conversations(tmp_path / "shop")
    repo.store.dispose()
    for arguments, message in (
        ([], "give one of --session ID or --customer ID"),
        (["--session", "a", "--customer", "b"], "give one of --session ID or --customer ID"),
        (["--session", "nope"], "no conversation with session id 'nope'"),
        (["--customer", " "], "customer_id must be a non-blank string"),
    ):
        result = runner.invoke(app, ["erase", str(tmp_path / "shop"), *arguments])
        assert result.exit_code == 1 and message in result.output, (arguments, result.output)
        assert "Traceback" not in result.output
    result = runner.invoke(app, ["erase", str(tmp_path / "nowhere"), "--session", "x"])
    assert result.exit_code == 1 and "project folder not found" in result.output


def test_purge_by_the_project_retention_or_by_days(tmp_path):
    settings = "name: shop\nprivacy: {retention_days: 30}\n"
    repo, sessions = _project_with_conversations(tmp_path / "kept", settings)
    result = runner.invoke(app, ["purge", str(tmp_path / "kept")])
    assert result.exit_code == 0, result.output
    assert "deleted 1 conversation inactive for more than 30 days" in result.stdout
    assert leaks(repo.store, ["message of old", sessions["old"]]) == []
    assert len(repo.list_conversations()) == 2
    repo.store.dispose()

    repo, _ = _project_with_conversations(tmp_path / "forever")
    result = runner.invoke(app, ["purge", str(tmp_path / "forever")])
    assert result.exit_code == 1
    assert "no retention period: pass --days N or set privacy.retention_days in" in result.output
    result = runner.invoke(app, ["purge", str(tmp_path / "forever"), "--days", "50"])
    assert result.exit_code == 0 and "deleted 0 conversations" in result.stdout
    assert runner.invoke(app, ["purge", str(tmp_path / "forever"), "--days", "0"]).exit_code == 2
    assert len(repo.list_conversations()) == 3
    repo.store.dispose()
