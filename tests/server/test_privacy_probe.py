"""The issue's probe: every message with personal data of the privacy corpus goes through a real server
(the chat API, the dashboard's search, an agent's replies) with its access log on, on SQLite and
PostgreSQL; then no raw value is found in any column of any table, in any byte of the SQLite files, or
in any log line the server wrote."""

import logging
import re
from pathlib import Path

import httpx
import pytest

from kefu.privacy.scoring import read_corpus
from tests.server.fuzzing import UNLIMITED
from tests.support.server import chat, login, start_server, uvicorn_logs_to
from tests.support.store import leaks

CORPUS = Path(__file__).parents[1] / "privacy" / "corpus.jsonl"
SEARCH = "/api/v1/admin/conversations/search"


def _forms(value: str) -> set[str]:
    """A value as written and without its spaces and dashes (a phone number kept in normalised form)."""
    return {value, re.sub(r"[\s-]", "", value)}


def _sample() -> list[dict]:
    """Two messages of each language and kind of personal data, and every one that names the number an
    order's, tracking or parcel number (what the look-alike rule once let through): seconds, not minutes."""
    rows, taken = [], {}
    for row in read_corpus(CORPUS):
        if not row["pii"]:
            continue
        group = (row["lang"], row["pii"][0]["type"])
        taken[group] = taken.get(group, 0) + 1
        if taken[group] <= 2 or re.search(r"订单|单号|快递|order|tracking|parcel", row["text"], re.IGNORECASE):
            rows.append(row)
    return rows


def test_no_raw_personal_data_in_any_table_file_or_log_line(
    tiny_project: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _sample()
    values = sorted({mention["value"] for row in rows for mention in row["pii"]})
    caplog.set_level(logging.DEBUG)
    with (
        start_server(tiny_project, db_url, UNLIMITED, log_level="info") as server,
        uvicorn_logs_to(caplog),
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        admin = login(http)
        session = None
        for number, row in enumerate(rows[::2]):  # what customers tell the bot, a conversation per ten
            sent = chat(http, row["text"], session)  # as the widget sends it, with the conversation's key
            session = None if number % 10 == 9 else sent["session_id"]
        asked = chat(http, "转人工")
        assert asked["handoff"]
        handed_off = asked["session_id"]
        assert http.post(f"/api/v1/admin/conversations/{handed_off}/claim", headers=admin).status_code == 200
        for row in rows[1::2]:  # an agent quoting it back, and the customer answering the person
            path = f"/api/v1/admin/conversations/{handed_off}/reply"
            assert http.post(path, json={"text": row["text"]}, headers=admin).status_code == 200
            assert chat(http, row["text"], handed_off)["session_id"] == handed_off
        for value in values:  # agents search for what a customer told them, in the body and in a URL
            assert http.post(SEARCH, json={"q": value}, headers=admin).status_code == 200
            assert http.get("/api/v1/admin/conversations", params={"q": value}, headers=admin).status_code == 400
        store = server.services.repo.store
        stored = leaks(store, values)
        if store.is_sqlite:
            database = Path(store.url.database)
            files = [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]
            raw = b"".join(path.read_bytes() for path in files if path.is_file())
            stored += [f"{database.name}*: {value}" for value in values
                       if any(form.encode() in raw for form in _forms(value))]
    # the records of this process's HTTP client (httpx, httpcore) are the test's, not the server's
    lines = [f"{r.name}: {r.getMessage()}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert sum(line.startswith("uvicorn.access") for line in lines) > 2 * len(values)  # the log was caught
    logged = [f"{line}: {value}" for line in lines for value in values if any(form in line for form in _forms(value))]
    assert stored == [] and logged == []
