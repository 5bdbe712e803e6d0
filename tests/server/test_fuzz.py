"""The whole HTTP API fuzzed with requests generated from its own OpenAPI document (see fuzzing.py):
no request, however odd, gets a 5xx, and every answer matches the document."""

from pathlib import Path

import httpx

from tests.server.fuzzing import UNLIMITED, fuzz
from tests.support.server import login, start_server
from tests.support.store import sqlite_copy

EXAMPLES = 30  # per operation, valid and invalid: the whole test stays under a minute on two cores


def test_generated_requests_get_no_server_error_and_documented_answers(
    tiny_project: Path, sqlite_template: Path, tmp_path: Path
) -> None:
    with start_server(tiny_project, sqlite_copy(sqlite_template, tmp_path), server_settings=UNLIMITED) as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            token = login(http)["Authorization"].removeprefix("Bearer ")
            http.post("/api/v1/chat", json={"text": "我要人工客服"}).raise_for_status()  # something to read
        results = fuzz(server.url, token, EXAMPLES)
    assert len(results) >= 20 and all(result.calls for result in results)
    assert {result.label: result.failures[0] for result in results if result.failures} == {}
