import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(2)

from kefu.data import Example
from kefu.training import TrainConfig, fit

INTENTS = {
    "refund": ["I want a refund", "give me my money back", "refund my order please", "我要退款", "退款什么时候到账"],
    "order_status": ["where is my order", "track my package", "has my parcel shipped", "我的订单到哪了", "查一下快递"],
    "greet": ["hello", "hi there", "good morning", "你好", "您好啊"],
}


@pytest.fixture(scope="session")
def tiny_examples() -> list[Example]:
    return [Example(text, label) for label, texts in INTENTS.items() for text in texts]


@pytest.fixture(scope="session")
def tiny_config() -> TrainConfig:
    return TrainConfig(dim=32, layers=1, heads=2, epochs=40, patience=40, lr=3e-3, val_fraction=0.0, vocab_size=200)


@pytest.fixture(scope="session")
def tiny_model(tiny_examples, tiny_config):
    return fit(tiny_examples, tiny_config, progress=False)


@pytest.fixture()
def saved_model(tiny_model, tmp_path):
    return tiny_model.save(tmp_path / "model")
