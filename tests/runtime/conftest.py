"""Fixtures of the runtime tests: the trained tiny project, a fresh SQLite database per test, a bot."""

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.runtime import Bot
from kefu.store import Repository, Store
from tests.runtime.helpers import CHEAP_HASHER, WordEmbedder, one_torch_thread, trained_tiny_project


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained tiny project; read-only (copy it with helpers.project_copy to change it)."""
    return trained_tiny_project(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy (migrating per test costs more than the test)."""
    path = tmp_path_factory.mktemp("db-template") / "kefu.db"
    store = Store(path=path)
    store.migrate()
    store.dispose()  # checkpoints the WAL: one file to copy
    return path


@pytest.fixture()
def db_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    shutil.copyfile(migrated_sqlite, tmp_path / "kefu.db")
    return f"sqlite:///{tmp_path / 'kefu.db'}"


@pytest.fixture()
def repo(db_url: str) -> Iterator[Repository]:
    repo = Repository(Store(db_url), password_hasher=CHEAP_HASHER)
    yield repo
    repo.store.dispose()


@pytest.fixture()
def bot(tiny_project: Path, repo: Repository) -> Bot:
    return Bot(tiny_project, repo, embedder=WordEmbedder(), rng=random.Random(0), watch=False)
