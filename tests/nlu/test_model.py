import json
from dataclasses import replace

import pytest
import torch

import kefu
from kefu.errors import ArtifactError
from kefu.nlu.evaluate import evaluate_model
from kefu.nlu.model import Model
from kefu.training import fit


def test_end_to_end_gets_its_training_examples_right(tiny_model, tiny_examples):
    predictions = tiny_model.predict([e.text for e in tiny_examples])
    correct = sum(p.intent == e.label for p, e in zip(predictions, tiny_examples))
    assert correct == len(tiny_examples)
    first = predictions[0]
    assert first.ranking[0]["intent"] == first.intent
    assert len(first.ranking) == 3
    assert abs(sum(r["confidence"] for r in first.ranking) - 1.0) < 1e-4


def test_save_load_round_trip_gives_identical_predictions(tiny_model, saved_model):
    texts = ["我要退款", "where is my package", "hello", "随便说点什么 random"]
    loaded = kefu.load(saved_model)
    torch.testing.assert_close(loaded.predict_proba(texts), tiny_model.predict_proba(texts))
    assert loaded.labels == tiny_model.labels


def test_artifact_files_and_version(saved_model):
    names = {p.name for p in saved_model.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "labels.json", "metrics.json"} <= names
    assert not any(n.endswith((".pt", ".pkl", ".bin")) for n in names)
    config = json.loads((saved_model / "config.json").read_text())
    assert config["kefu_version"] == kefu.__version__
    assert config["format_version"] == 1


def test_missing_file_is_named(saved_model):
    (saved_model / "labels.json").unlink()
    with pytest.raises(ArtifactError, match="missing labels.json"):
        kefu.load(saved_model)


def test_corrupt_weights_are_reported(saved_model):
    (saved_model / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ArtifactError, match="corrupt weights"):
        kefu.load(saved_model)


def test_newer_format_is_refused(saved_model):
    path = saved_model / "config.json"
    config = json.loads(path.read_text())
    config["format_version"] = 99
    path.write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="newer"):
        kefu.load(saved_model)


def test_labels_that_do_not_fit_the_weights(saved_model):
    (saved_model / "labels.json").write_text(json.dumps(["a", "b"]))
    with pytest.raises(ArtifactError, match="labels"):
        kefu.load(saved_model)


def test_evaluate_model_reports_perfect_training_fit(tiny_model, tiny_examples):
    report = evaluate_model(tiny_model, tiny_examples)
    assert report.accuracy == 1.0 and report.n == len(tiny_examples)


def test_empty_text_is_predicted_without_error(tiny_model):
    assert tiny_model.predict([""])[0].intent in tiny_model.labels


def test_save_replaces_an_older_model_and_leaves_no_temp_dirs(tiny_model, saved_model):
    (saved_model / "ngrams.json").write_text("stale")
    tiny_model.save(saved_model)
    assert kefu.load(saved_model).labels == tiny_model.labels
    assert sorted(p.name for p in saved_model.parent.iterdir()) == ["model"]


def test_save_refuses_to_overwrite_a_foreign_directory(tiny_model, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ArtifactError, match="refusing to overwrite"):
        tiny_model.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_ngram_head_is_a_second_classifier_whose_probabilities_are_averaged(tiny_examples, tiny_config, tmp_path):
    model = fit(tiny_examples, replace(tiny_config, ngram_head=True), progress=False)
    assert model.network.intent.in_features == tiny_config.dim  # the sentence vector is not widened
    texts = ["我要退款", "where is my order"]
    batch = model.inputs.batch(texts, model.inputs.token_ids(texts))
    with torch.inference_mode():
        out = model.network.eval()(batch)
    expected = (torch.softmax(out.intent, -1) + torch.softmax(out.ngram_intent, -1)) / 2
    torch.testing.assert_close(model.predict_proba(texts), expected)
    assert [p.intent for p in model.predict(texts)] == ["refund", "order_status"]
    loaded = Model.load(model.save(tmp_path / "m"))
    torch.testing.assert_close(loaded.predict_proba(texts), expected)
