import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(2)

from kefu.data import Example
from kefu.store import Store
from kefu.training import TrainConfig, fit
from tests.support.examples import INTENTS
from tests.support.project import trained_tiny_project


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


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny bot project of tests/support/project.py, trained once per session; read-only (copy it with
    project_copy to change it)."""
    return trained_tiny_project(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy (tests.support.store.sqlite_copy): migrating per test costs more
    than most tests."""
    path = tmp_path_factory.mktemp("template") / "kefu.db"
    store = Store(path=path)
    store.migrate()
    store.dispose()  # the last connection to close checkpoints the WAL into the file: one file to copy
    return path
