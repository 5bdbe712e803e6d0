"""A model directory from elsewhere can neither run code (nothing is unpickled) nor make kefu read files
outside it."""

import pickle
import re
from pathlib import Path

import pytest
import torch

import kefu
from kefu.errors import ArtifactError
from kefu.nlu.artifact import model_file
from kefu.nlu.pretrained import registry

KEFU_SOURCE = Path(kefu.__file__).resolve().parent
UNPICKLING = re.compile(r"\btorch\.load\(|\bimport pickle\b|\bpickle\.|\bdill\b|\bjoblib\b")


def _refuse_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_, **__):
        raise AssertionError("something unpickled")

    for module, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")):
        monkeypatch.setattr(module, name, refuse)


def test_no_kefu_source_unpickles() -> None:
    found = [
        f"{path.relative_to(KEFU_SOURCE)}:{number}: {line.strip()}"
        for path in KEFU_SOURCE.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNPICKLING.search(line)
    ]
    assert found == []


def test_a_model_loads_without_unpickling(saved_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_unpickling(monkeypatch)
    assert kefu.load(saved_model).predict("我要退款")[0].intent == "refund"


def test_a_pretrained_encoder_with_pickled_weights_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    config.save_pretrained(tmp_path)
    torch.save(BertModel(config).state_dict(), tmp_path / "pytorch_model.bin")  # what transformers would unpickle
    _refuse_unpickling(monkeypatch)
    with pytest.raises(OSError, match="model.safetensors"):
        registry._from_pretrained(tmp_path)


@pytest.mark.parametrize("name", ["../labels.json", "/etc/hostname"])
def test_a_name_leading_out_of_the_model_directory_is_refused(saved_model: Path, name: str) -> None:
    with pytest.raises(ArtifactError, match="leads outside the model directory"):
        model_file(saved_model, name)
    assert model_file(saved_model, "labels.json") == saved_model / "labels.json"


def test_a_link_to_a_file_outside_is_refused_naming_it(saved_model: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    (saved_model / "labels.json").rename(outside)
    (saved_model / "labels.json").symlink_to(outside)
    with pytest.raises(ArtifactError, match=r"labels\.json: leads outside the model directory"):
        kefu.load(saved_model)
