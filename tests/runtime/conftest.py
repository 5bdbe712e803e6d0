"""Fixtures of the runtime tests: a fresh SQLite database per test, a bot on the tiny project."""

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.runtime import Bot
from kefu.store import Repository, Store
from tests.support.project import WordEmbedder, one_torch_thread
from tests.support.store import CHEAP_HASHER, sqlite_copy


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture()
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture()
def repo(db_url: str) -> Iterator[Repository]:
    repo = Repository(Store(db_url), password_hasher=CHEAP_HASHER)
    yield repo
    repo.store.dispose()


@pytest.fixture()
def bot(tiny_project: Path, repo: Repository) -> Bot:
    return Bot(tiny_project, repo, embedder=WordEmbedder(), rng=random.Random(0), watch=False)
