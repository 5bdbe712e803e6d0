"""`train_project` (reuse when unchanged), model swaps without downtime, and the reviewed-data export."""

import json
import time
from pathlib import Path

import pytest

from kefu.data import load_examples
from kefu.errors import ConfigError
from kefu.project import load_project
from kefu.project.training import nlu_fingerprint, reviewed_file, train_project
from kefu.runtime import Bot, Erasure, export_reviewed, reviewed_for_training
from kefu.store import Repository
from kefu.store.columns import utcnow
from tests.support.project import WordEmbedder, project_copy


@pytest.fixture()
def project(tiny_project: Path, tmp_path: Path) -> Path:
    """A private copy of the trained tiny project, free to change."""
    return project_copy(tiny_project, tmp_path / "shop")


def add_examples(project: Path, intent: str, texts: list[str]) -> None:
    """Append an intent block to the project's reviewed data (as a retrain would)."""
    lines = "".join(f"    - {text}\n" for text in texts)
    path = reviewed_file(load_project(project))
    path.write_text(f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}', encoding="utf-8")


def test_an_unchanged_project_is_not_trained_again(project: Path) -> None:
    summary = train_project(project, progress=False, embedder=WordEmbedder())
    assert summary["nlu"]["reused"] and summary["knowledge"]["reused"]
    assert summary["nlu"]["labels"] == ["faq", "greet", "human_agent", "order_status", "out_of_scope"]
    assert summary["knowledge"]["passages"] == 3
    forced = train_project(project, progress=False, force=True, embedder=WordEmbedder())
    assert not forced["nlu"]["reused"] and forced["nlu"]["examples"] == 60
    assert forced["nlu"]["version"] == summary["nlu"]["version"]  # same inputs, same fingerprint


def test_the_model_records_its_fingerprint_and_the_rules_of_kefu_yml(project: Path) -> None:
    metrics = json.loads((project / "models" / "nlu" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["project_fingerprint"] == nlu_fingerprint(load_project(project))
    config = json.loads((project / "models" / "nlu" / "config.json").read_text(encoding="utf-8"))
    assert config["rules"]["regexes"] == {"order_id": ["[A-Z]\\d{5,8}"]}
    assert config["train"]["dim"] == 32  # the TrainConfig of kefu.yml


def test_reviewed_data_changes_the_fingerprint_and_is_trained_on(project: Path) -> None:
    before = nlu_fingerprint(load_project(project))
    add_examples(project, "greet", ["yo", "howdy"])
    assert nlu_fingerprint(load_project(project)) != before
    summary = train_project(project, progress=False, embedder=WordEmbedder())
    assert not summary["nlu"]["reused"] and summary["nlu"]["examples"] == 62
    assert summary["knowledge"]["reused"]


def test_a_broken_kefu_yml_is_one_clear_error(project: Path) -> None:
    (project / "kefu.yml").write_text("name: x\nnlu: {train: {epochs: zero}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="kefu.yml:2"):
        train_project(project, progress=False)


def test_a_project_can_answer_with_its_encoder_on_onnx_runtime(project: Path, repo: Repository) -> None:
    settings = project / "kefu.yml"
    torch_yml = settings.read_text(encoding="utf-8")
    settings.write_text(torch_yml.replace("  encoder: scratch\n", "  encoder: scratch\n  runtime: onnx\n"), encoding="utf-8")
    summary = train_project(project, progress=False, embedder=WordEmbedder())
    assert not summary["nlu"]["reused"]  # the runtime is part of what the model depends on
    model_dir = project / "models" / "nlu"
    assert (model_dir / "encoder.onnx").is_file()
    assert json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["onnx"] == {"int8": False}
    bot = Bot(project, repo, embedder=WordEmbedder(), watch=False)
    assert bot.engine.model.onnx == {"int8": False}
    assert bot.handle(None, "hello").intent == "greet"
    assert bot.handle(None, "where is my order").decision == "form"
    assert train_project(project, progress=False, embedder=WordEmbedder())["nlu"]["reused"]
    settings.write_text(torch_yml.replace("  encoder: scratch\n", "  encoder: scratch\n  runtime: gpu\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match="runtime"):
        load_project(project)


def test_swap_model_replaces_the_model_while_the_bot_keeps_answering(project: Path, repo: Repository) -> None:
    bot = Bot(project, repo, embedder=WordEmbedder(), watch=False)
    old = bot.version
    session = bot.handle(None, "where is my order").session_id
    add_examples(project, "greet", ["yo", "howdy"])
    new_dir = Path(train_project(project, progress=False, embedder=WordEmbedder())["nlu"]["dir"])
    assert bot.swap_model(new_dir) != old
    # the conversation goes on with the new model: its state lives in the database
    result = bot.handle(session, "A12345")
    assert result.model_version == bot.version and "A12345" in result.reply.text


def test_a_model_the_domain_does_not_fit_is_refused_and_the_old_one_keeps_answering(
    project: Path, repo: Repository, tmp_path: Path
) -> None:
    bot = Bot(project, repo, embedder=WordEmbedder(), watch=False)
    old = bot.version
    other = project_copy(project, tmp_path / "other")
    nlu = (other / "data" / "nlu.yml").read_text(encoding="utf-8")
    (other / "data" / "nlu.yml").write_text(
        nlu.replace("intent: human_agent", "intent: person"), encoding="utf-8"
    )
    (other / "domain.yml").write_text(
        (other / "domain.yml").read_text(encoding="utf-8").replace("human_agent", "person"), encoding="utf-8"
    )
    train_project(other, progress=False, embedder=WordEmbedder())
    with pytest.raises(ConfigError, match="human_agent"):
        bot.swap_model(other / "models" / "nlu")
    assert bot.version == old and bot.handle(None, "hello").decision == "reply"


def test_another_process_retraining_is_noticed(project: Path, repo: Repository, monkeypatch) -> None:
    monkeypatch.setattr("kefu.runtime.bot.RELOAD_CHECK_SECONDS", 0.0)
    bot = Bot(project, repo, embedder=WordEmbedder())
    old = bot.version
    add_examples(project, "greet", ["yo", "howdy"])
    train_project(project, progress=False, embedder=WordEmbedder())  # as if another worker retrained
    deadline = time.monotonic() + 20
    while bot.version == old and time.monotonic() < deadline:
        bot.handle(None, "hello")  # each turn may start the background reload; it never waits for it
        time.sleep(0.05)
    assert bot.version != old


def test_export_reviewed_writes_labelled_reviews_beside_the_users_data(
    bot: Bot, repo: Repository, project: Path
) -> None:
    original = (project / "data" / "nlu.yml").read_bytes()
    bot.handle(None, "what is the weather tomorrow")
    bot.handle(None, "tell me a joke")
    first, second = repo.review_queue("pending")
    repo.label_review(first.id, "out_of_scope", None)
    repo.label_review(second.id, "greet", None)
    total, added = export_reviewed(repo, load_project(project))
    assert (total, added) == (2, 2)
    examples = load_examples(project / "data" / "reviewed.yml")
    assert {(e.text, e.label) for e in examples} == {
        ("what is the weather tomorrow", "out_of_scope"),
        ("tell me a joke", "greet"),
    }
    assert (project / "data" / "nlu.yml").read_bytes() == original
    # counted as added: what was labelled after the time given (the answering model's training)
    trained = utcnow()
    assert export_reviewed(repo, load_project(project), since=trained) == (2, 0)
    repo.label_review(second.id, "out_of_scope", None)
    assert export_reviewed(repo, load_project(project), since=trained) == (2, 1)
    assert {e.label for e in load_examples(project / "data" / "reviewed.yml")} == {"out_of_scope"}


def test_the_reviewed_file_exists_for_one_training_only(bot: Bot, repo: Repository, project: Path) -> None:
    bot.handle(None, "tell me a joke")
    [review] = repo.review_queue("pending")
    repo.label_review(review.id, "greet", None)
    path = reviewed_file(load_project(project))
    with pytest.raises(RuntimeError), reviewed_for_training(repo, load_project(project)) as counts:
        assert counts == (1, 1) and "tell me a joke" in path.read_text(encoding="utf-8")
        raise RuntimeError("the training failed")
    assert not path.exists()  # however the training ended
    # an erasure rewrites a file a training has on disk, and never makes one
    assert not Erasure(repo, load_project(project)).delete_conversation("nope") and not path.exists()
