"""The browser tests serve the tiny project like the server tests do (see tests/support/server.py) and
drive Debian's Chromium (never a browser Playwright downloads)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.project import one_torch_thread
from tests.support.server import ADMIN_PASSWORD, TEST_SECRET, RunningServer, start_server

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not found (apt-get install chromium; never playwright install)")
    for item in items:
        if not CHROMIUM.exists() and item.path.parent == Path(__file__).parent:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture()
def server(tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setenv("KEFU_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("KEFU_SECRET", TEST_SECRET)
    with start_server(tiny_project, f"sqlite:///{tmp_path / 'kefu.db'}") as running:
        yield running


@pytest.fixture()
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
