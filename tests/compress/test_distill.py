"""Distillation: a student learns a teacher's soft labels, on labelled and on unlabelled texts."""

import json

import pytest
import torch
from typer.testing import CliRunner

from kefu.cli import app
from kefu.compress import distill
from kefu.compress.distill import variants
from kefu.data import Example
from kefu.errors import ConfigError
from kefu.training import TrainConfig, fit
from kefu.training.teacher import Teacher
from tests.support.examples import INTENTS


class FixedTeacher:
    """A stand-in model that gives every text the same probabilities."""

    def __init__(self, labels, row):
        self.labels = labels
        self.row = torch.tensor(row)

    def predict_proba(self, texts):
        return self.row.repeat(len(texts), 1)


def test_soft_targets_follow_the_students_label_order_and_soften_with_temperature():
    teacher = FixedTeacher(["a", "b", "c"], [0.7, 0.2, 0.1])
    at_one = Teacher(teacher, temperature=1.0).soft_targets(["x"], ["c", "a", "b"])
    assert torch.allclose(at_one, torch.tensor([[0.1, 0.7, 0.2]]))
    at_two = Teacher(teacher, temperature=2.0).soft_targets(["x"], ["a", "b", "c"])
    root = torch.tensor([0.7, 0.2, 0.1]).sqrt()
    assert torch.allclose(at_two, (root / root.sum()).unsqueeze(0))
    with pytest.raises(ConfigError, match="no intent 'd'"):
        Teacher(teacher).soft_targets(["x"], ["a", "d"])
    with pytest.raises(ConfigError, match="temperature"):
        Teacher(teacher, temperature=0)


def test_loss_is_zero_when_the_student_matches_the_teacher_and_grows_as_it_departs():
    teacher = Teacher(FixedTeacher(["a", "b"], [0.8, 0.2]), temperature=2.0)
    targets = teacher.soft_targets(["x", "y"], ["a", "b"])
    matching = torch.log(torch.tensor([[0.8, 0.2], [0.8, 0.2]]))  # logits whose softmax is the teacher's
    assert teacher.loss(matching, targets).item() == pytest.approx(0.0, abs=1e-6)
    assert teacher.loss(torch.tensor([[0.0, 0.0]] * 2), targets) < teacher.loss(torch.tensor([[0.0, 3.0]] * 2), targets)


def _kl_to(teacher, student, texts) -> float:
    p, q = teacher.predict_proba(texts), student.predict_proba(texts)
    return float((p * (p.clamp_min(1e-9) / q.clamp_min(1e-9)).log()).sum(-1).mean())


def test_a_student_with_few_labels_learns_the_teachers_view_from_unlabelled_texts(tiny_model, tiny_config):
    labelled = [Example(texts[0], label) for label, texts in INTENTS.items()] + [
        Example(texts[1], label) for label, texts in INTENTS.items()
    ]
    unlabelled = [text for texts in INTENTS.values() for text in texts[2:]]
    cfg = TrainConfig(**(tiny_config.to_dict() | {"epochs": 30, "patience": 30}))
    plain = fit(labelled, cfg, progress=False)
    student = distill(tiny_model, labelled, unlabelled, cfg, progress=False)
    assert student.metrics["distillation"]["n_unlabelled"] == len(unlabelled)
    # the unlabelled texts are the ones neither student saw a label for
    assert _kl_to(tiny_model, student, unlabelled) < 0.5 * _kl_to(tiny_model, plain, unlabelled)
    agree = [p.intent for p in student.predict(unlabelled)] == [p.intent for p in tiny_model.predict(unlabelled)]
    assert agree


def test_cli_distill(saved_model, tiny_examples, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"text": e.text, "intent": e.label}, ensure_ascii=False) for e in tiny_examples))
    extra = tmp_path / "more.txt"
    extra.write_text("refund please\nwhere is my parcel\nhey\n")
    config = tmp_path / "c.yml"
    config.write_text("dim: 32\nlayers: 1\nheads: 2\nepochs: 30\nlr: 0.003\nval_fraction: 0.0\nvocab_size: 200\n")
    out = tmp_path / "student"
    result = CliRunner().invoke(
        app,
        ["distill", str(saved_model), str(data), "--unlabelled", str(extra), "--config", str(config), "--out", str(out),
         "--copies", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "15 examples, 3 unlabelled" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["distillation"]["n_unlabelled"] == 3 and metrics["n_train"] == 15
    assert 0 < metrics["distillation"]["n_variants"] <= 15  # at most one of each training text
    missing = CliRunner().invoke(app, ["distill", str(tmp_path / "nope"), str(data), "--out", str(out)])
    assert missing.exit_code != 0 and len(missing.output.strip().splitlines()) == 1


def test_variants_are_new_texts_made_of_the_originals_words():
    texts = ["where is my parcel now", "cancel my order please", "我的快递到哪了", "hi"]
    made = variants(texts, copies=3, seed=1)
    assert made == variants(texts, copies=3, seed=1)  # the same for a seed: a resumed run fingerprints it
    assert made and len(set(made)) == len(made) and not set(made) & set(texts)
    words = {w for t in [*texts[:2], "hi"] for w in t.split()}
    chinese = [m for m in made if " " not in m and any(ord(c) > 0x2E80 for c in m)]
    english = [m for m in made if m not in chinese]
    assert chinese and all(set(m) <= set("".join(texts)) for m in chinese)  # characters, no spaces added
    assert english and all(set(m.split()) <= words for m in english)
    assert variants(texts, copies=0) == [] and variants(["hi"], copies=5) == []
    with pytest.raises(ConfigError):
        variants(texts, copies=-1)
