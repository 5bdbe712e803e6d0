"""The browser test serves the tiny project like the server tests do (see tests/server/helpers.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.helpers import one_torch_thread, trained_tiny_project


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_tiny_project(tmp_path_factory.getbasetemp())
