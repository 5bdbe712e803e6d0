"""Personal data over its whole life, through a real server on SQLite and PostgreSQL: what is stored, how
long, and that erasing, purging and closing leave nothing behind.

Every check reads the whole database with plain SQL (tests.support.store), not through the API.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from kefu.privacy import Redactor
from kefu.privacy.scoring import read_corpus
from kefu.project import load_project
from kefu.project.training import reviewed_file
from kefu.runtime import export_reviewed
from kefu.server import retention
from kefu.store import Repository, Store, StoreError
from kefu.store.columns import utcnow
from tests.support.project import project_copy
from tests.support.server import RunningServer, chat, login, new_agent, start_server
from tests.support.store import FakeClock, leaks, stored_texts

CORPUS = Path(__file__).parents[1] / "privacy" / "corpus.jsonl"
PII_TYPES = ("email", "phone", "id_number", "card", "ip")
PLACEHOLDERS = ("[EMAIL]", "[PHONE]", "[ID_NUMBER]", "[CARD]", "[IP]")


def _marker() -> str:
    return f"mark{uuid.uuid4().hex[:10]}"


def _send(
    http: httpx.Client, text: str, session_id: str | None = None, customer_id: str | None = None
) -> dict:
    """``chat`` as a signed-in customer (or an anonymous one: None)."""
    return chat(http, text, session_id, customer_id=customer_id)


def _wait_for(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def private_project(tiny_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project keeping conversations 30 days and the order id of a closed one."""
    root = project_copy(tiny_project, tmp_path_factory.mktemp("private") / "shop")
    settings = root / "kefu.yml"
    privacy = "privacy:\n  retention_days: 30\n  keep_slots: [order_id]\n"
    settings.write_text(settings.read_text(encoding="utf-8") + privacy, encoding="utf-8")
    return root


# --- erasure --------------------------------------------------------------------------------------


def test_admins_erase_a_customer_or_a_conversation_and_nothing_of_it_is_left(
    server: RunningServer, client: httpx.Client
) -> None:
    store = server.services.repo.store
    admin = login(client)
    agent = new_agent(client, admin, "mei")
    erased, kept = _marker(), _marker()
    first = _send(client, f"where is my order {erased}", customer_id="cust-erased")["session_id"]
    second = _send(client, f"I want to talk to a human {erased}", customer_id="cust-erased")["session_id"]
    assert first != second  # a message without a session starts a new conversation
    assert client.post(f"/api/v1/admin/conversations/{second}/claim", headers=admin).status_code == 200
    reply = client.post(
        f"/api/v1/admin/conversations/{second}/reply", headers=admin, json={"text": f"I am here {erased}"}
    )
    assert reply.status_code == 200
    other = _send(client, f"hello {kept}", customer_id="cust-kept")["session_id"]
    detail = client.get(f"/api/v1/admin/conversations/{first}", headers=admin).json()
    assert detail["conversation"]["customer_id"] == "cust-erased"
    assert leaks(store, [erased]) != []  # the markers were stored: the checks below are not vacuous

    for path in ("/api/v1/admin/customers/cust-erased", f"/api/v1/admin/conversations/{other}"):
        assert client.delete(path, headers=agent).status_code == 403
    erasure = client.delete("/api/v1/admin/customers/cust-erased", headers=admin)
    assert (erasure.status_code, erasure.json()) == (200, {"deleted": 2})
    assert leaks(store, [erased, "cust-erased", first, second]) == []
    assert {table for table, _, value in stored_texts(store) if kept in value} == {"turns"}
    assert client.delete("/api/v1/admin/customers/cust-erased", headers=admin).json() == {"deleted": 0}

    deletion = client.delete(f"/api/v1/admin/conversations/{other}", headers=admin)
    assert (deletion.status_code, deletion.json()) == (200, {"deleted": 1})
    assert leaks(store, [kept, "cust-kept", other]) == []
    again = client.delete(f"/api/v1/admin/conversations/{other}", headers=admin)
    assert again.status_code == 404 and other in again.json()["detail"]


def _sqlite_files(server: RunningServer) -> bytes:
    """The bytes of the server's SQLite database with its WAL and shared-memory files."""
    database = Path(server.services.repo.store.url.database)
    files = [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
    return b"".join(path.read_bytes() for path in files if path.is_file())


def test_erased_text_is_left_in_no_byte_of_the_sqlite_files(sqlite_server: RunningServer) -> None:
    erased, kept = _marker(), _marker()
    with httpx.Client(base_url=sqlite_server.url) as http:
        admin = login(http)
        for _ in range(3):
            _send(http, f"where is my order {erased}", customer_id="cust-erased")
        _send(http, f"hello {kept}", customer_id="cust-kept")
        session = _send(http, f"hello again {erased}")["session_id"]
        assert erased.encode() in _sqlite_files(sqlite_server)  # written: the check below is not vacuous
        assert http.delete("/api/v1/admin/customers/cust-erased", headers=admin).json() == {"deleted": 3}
        assert http.delete(f"/api/v1/admin/conversations/{session}", headers=admin).json() == {"deleted": 1}
        on_disk = _sqlite_files(sqlite_server)
    # neither in the WAL's old frames nor in the database file's freed space
    assert erased.encode() not in on_disk and kept.encode() in on_disk


def test_erasing_a_customer_removes_their_reviewed_turns_from_data_reviewed_yml(
    private_project: Path, db_url: str
) -> None:
    project = load_project(private_project)
    with start_server(private_project, db_url) as running, httpx.Client(base_url=running.url) as http:
        admin = login(http)
        erased, kept = "what is the weather tomorrow", "tell me a joke"  # both are sure to be reviewed
        for text, customer_id in ((erased, "cust-erased"), (kept, "cust-kept")):
            _send(http, text, customer_id=customer_id)
        reviews = http.get("/api/v1/admin/reviews", headers=admin).json()
        assert sorted(review["text"] for review in reviews) == sorted([erased, kept])
        for review in reviews:
            labelled = http.post(f"/api/v1/admin/reviews/{review['id']}/label", headers=admin,
                                 json={"intent": "out_of_scope"})
            assert labelled.status_code == 200
        export_reviewed(running.services.repo, project)  # what a retrain does first
        assert erased in reviewed_file(project).read_text(encoding="utf-8")

        assert http.delete("/api/v1/admin/customers/cust-erased", headers=admin).json() == {"deleted": 1}
        assert erased not in reviewed_file(project).read_text(encoding="utf-8")
        assert kept in reviewed_file(project).read_text(encoding="utf-8")
        assert http.delete("/api/v1/admin/customers/cust-kept", headers=admin).json() == {"deleted": 1}
    assert not reviewed_file(project).exists()  # nothing labelled is left: the module's project is as it was


def _files_holding(root: Path, text: str) -> list[str]:
    """The project's files that hold ``text``, the trained model's weights and vocabulary aside (what a
    model learned stays until it is trained again)."""
    model = root / "models" / "nlu"
    return [str(path.relative_to(root)) for path in root.rglob("*")
            if path.is_file() and model not in path.parents and text.encode() in path.read_bytes()]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_erasure_on_one_instance_leaves_the_text_in_no_file_of_another(
    tiny_project: Path, db_url: str, tmp_path: Path
) -> None:
    """Two servers with their own copies of the project on one database: B retrains from a reviewed turn,
    A erases its customer, and no file of B holds the turn's text, at once, not after B's next purge."""
    erased = f"howdy partner {_marker()}"
    a_root, b_root = (project_copy(tiny_project, tmp_path / name) for name in ("a", "b"))
    with (
        start_server(a_root, db_url) as a, start_server(b_root, db_url) as b,
        httpx.Client(base_url=a.url) as http_a, httpx.Client(base_url=b.url, timeout=30) as http_b,
    ):
        session = _send(http_a, erased, customer_id="cust-erased")["session_id"]
        [turn] = [t for t in a.services.repo.history(session) if t.role == "customer"]
        review = a.services.repo.add_review(turn.id, "low_confidence")
        admin_b = login(http_b)
        labelled = http_b.post(f"/api/v1/admin/reviews/{review.id}/label", headers=admin_b,
                               json={"intent": "greet"})
        assert labelled.status_code == 200
        job = http_b.post("/api/v1/admin/retrain", headers=admin_b).json()
        b.services.jobs.wait(120)
        status = http_b.get(f"/api/v1/admin/retrain/{job['id']}", headers=admin_b).json()
        assert (status["status"], status["reviewed_examples"]) == ("succeeded", 1), status

        assert http_a.delete("/api/v1/admin/customers/cust-erased", headers=login(http_a)).json() == {"deleted": 1}
        assert _files_holding(b_root, erased) == [] and _files_holding(a_root, erased) == []


@pytest.mark.parametrize("customer_id", ["li@example.com", "Li Wei", "x" * 129, ""])
def test_a_customer_id_that_is_not_an_opaque_account_id_is_refused(
    sqlite_server: RunningServer, customer_id: str
) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        sent = http.post("/api/v1/chat", json={"text": "hello", "customer_id": customer_id})
        assert sent.status_code == 422 and "customer_id" in sent.text
        if customer_id:
            erased = http.delete(f"/api/v1/admin/customers/{customer_id}", headers=login(http))
            assert erased.status_code == 422
    assert sqlite_server.services.repo.list_conversations() == []


def test_a_conversation_is_continued_only_for_its_customer(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        anonymous = _send(http, "hello")["session_id"]
        assert _send(http, "hello again", anonymous, customer_id="u-1")["session_id"] == anonymous
        assert _send(http, "hello", anonymous, customer_id="u-2")["session_id"] != anonymous
        assert _send(http, "hello", anonymous)["session_id"] != anonymous
    assert sqlite_server.services.repo.get_conversation(anonymous).customer_id == "u-1"


# --- closing --------------------------------------------------------------------------------------


def _conversation_with_an_order_id(http: httpx.Client, server: RunningServer) -> str:
    session = chat(http, "where is my order")["session_id"]
    assert "A12345" in chat(http, "A12345", session)["reply"]["text"]
    assert server.services.repo.get_conversation(session).state["slots"] == {"order_id": "A12345"}
    return session


def test_closing_a_conversation_deletes_its_slot_values(server: RunningServer, client: httpx.Client) -> None:
    admin = login(client)
    mei, lei = new_agent(client, admin, "mei"), new_agent(client, admin, "lei")
    session = _conversation_with_an_order_id(client, server)
    assert client.post(f"/api/v1/admin/conversations/{session}/claim", headers=mei).status_code == 200
    assert client.post(f"/api/v1/admin/conversations/{session}/close", headers=lei).status_code == 409

    closed = client.post(f"/api/v1/admin/conversations/{session}/close", headers=mei)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert server.services.repo.get_conversation(session).state["slots"] == {}
    conversations = [value for table, _, value in stored_texts(server.services.repo.store)
                     if table == "conversations"]
    assert conversations and not [value for value in conversations if "A12345" in value]
    assert client.get("/api/v1/admin/inbox?status=claimed", headers=mei).json() == []
    assert chat(client, "hello", session)["session_id"] != session  # a closed conversation is not reopened
    assert client.post("/api/v1/admin/conversations/nope/close", headers=mei).status_code == 404


def test_closing_keeps_the_slots_listed_in_keep_slots(private_project: Path, db_url: str) -> None:
    with start_server(private_project, db_url) as running, httpx.Client(base_url=running.url) as http:
        session = _conversation_with_an_order_id(http, running)
        closed = http.post(f"/api/v1/admin/conversations/{session}/close", headers=login(http))
        assert closed.status_code == 200
        assert running.services.repo.get_conversation(session).state["slots"] == {"order_id": "A12345"}


# --- retention ------------------------------------------------------------------------------------


def test_the_retention_job_purges_old_conversations_while_the_server_runs(
    private_project: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(retention, "PURGE_INTERVAL_SECONDS", 0.1)
    caplog.set_level(logging.INFO, logger="kefu.server")
    store = Store(db_url)
    past = Repository(store, clock=FakeClock(utcnow() - timedelta(days=31)))  # written 31 days ago

    def old_conversation(marker: str) -> str:
        session = past.get_or_create_conversation(None, customer_id="cust-old").session_id
        past.add_turn(session, "customer", f"old news {marker}")
        return session

    first, later, recent = _marker(), _marker(), _marker()
    first_session = old_conversation(first)
    recent_session = Repository(store).get_or_create_conversation(None).session_id
    Repository(store).add_turn(recent_session, "customer", f"fresh {recent}")
    try:
        with start_server(private_project, db_url, lifespan="on") as running:
            repo = running.services.repo
            _wait_for(lambda: repo.get_conversation(first_session) is None)  # the run at start
            later_session = old_conversation(later)
            _wait_for(lambda: repo.get_conversation(later_session) is None)  # a run an interval later
            assert repo.get_conversation(recent_session) is not None
            assert [t for t in threading.enumerate() if t.name == "kefu-retention"] != []
        assert leaks(store, [first, later, first_session, later_session, "cust-old"]) == []
        assert leaks(store, [recent]) != []
    finally:
        store.dispose()
    # the job stopped with the server, and its log says how many, never what
    assert [t for t in threading.enumerate() if t.name == "kefu-retention"] == []
    logged = [r.getMessage() for r in caplog.records if r.name == "kefu.server"]
    assert "retention: deleted 1 conversations inactive for more than 30 days" in logged
    assert not [line for line in logged if first in line or later in line or "cust-old" in line]


def test_the_retention_job_outlives_a_database_error(caplog: pytest.LogCaptureFixture) -> None:
    class Unreachable:
        def purge_older_than(self, days: int) -> int:
            raise StoreError("cannot connect to database sqlite:///gone.db: unable to open")

    caplog.set_level(logging.INFO, logger="kefu.server")
    job = retention.RetentionJob(Unreachable(), 30, interval=0.01)
    job.start()
    _wait_for(lambda: len(caplog.records) >= 2)  # it failed, and tried again
    job.stop()
    assert not any(t.name == "kefu-retention" for t in threading.enumerate())
    assert {r.getMessage() for r in caplog.records if r.name == "kefu.server"} == {
        "retention: purge failed: cannot connect to database sqlite:///gone.db: unable to open"
    }


# --- the figure: no unredacted test PII anywhere in the database -----------------------------


def _true_positives() -> dict[tuple[str, str], list[dict]]:
    """Corpus rows the redactor masks completely, by (language, kind of personal data)."""
    redact = Redactor().redact
    found: dict[tuple[str, str], list[dict]] = {}
    for row in read_corpus(CORPUS):
        kinds = {mention["type"] for mention in row["pii"]}
        masked = redact(row["text"])
        if len(kinds) == 1 and all(mention["value"] not in masked for mention in row["pii"]):
            found.setdefault((row["lang"], kinds.pop()), []).append(row)
    return found


def test_no_unredacted_test_pii_is_found_anywhere_in_the_database(
    server: RunningServer, client: httpx.Client
) -> None:
    rows = _true_positives()
    admin = login(client)
    secrets = []
    for language, human, customer_id in (("zh", "转人工", "cust-zh"), ("en", "talk to a human", None)):
        session = None
        for kind in PII_TYPES:  # while the bot answers: the NLU, entities and dialogue state see them
            row = rows[language, kind][0]
            session = _send(client, row["text"], session, customer_id)["session_id"]
            secrets += [mention["value"] for mention in row["pii"]]
        assert _send(client, human, session, customer_id)["handoff"]
        assert client.post(f"/api/v1/admin/conversations/{session}/claim", headers=admin).status_code == 200
        for kind in PII_TYPES:  # an agent quoting personal data back, and the customer answering a human
            row = rows[language, kind][1]
            reply = {"text": row["text"]}
            sent = client.post(f"/api/v1/admin/conversations/{session}/reply", headers=admin, json=reply)
            assert sent.status_code == 200, sent.text
            secrets += [mention["value"] for mention in row["pii"]]
        row = rows[language, "phone"][2]
        _send(client, row["text"], session, customer_id)
        secrets += [mention["value"] for mention in row["pii"]]

    assert leaks(server.services.repo.store, secrets) == []
    stored_turns = " ".join(value for table, column, value in stored_texts(server.services.repo.store)
                            if (table, column) == ("turns", "text"))
    assert all(placeholder in stored_turns for placeholder in PLACEHOLDERS)  # they were stored, masked
