"""Fixtures of the runtime tests: a fresh SQLite database per test, a bot on the tiny project."""

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.runtime import Bot
from kefu.store import Repository, Store
from tests.support.project import WordEmbedder, one_torch_thread
from tests.support.store import CHEAP_HASHER


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


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
