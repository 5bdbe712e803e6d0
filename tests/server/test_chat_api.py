"""The public API over a real server: chat round trips, polling for messages, health and metrics."""

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from kefu.runtime.recording import BotTurn, Recorded, record_exchange
from tests.support.server import WIDGET_READS, RunningServer, chat, poll


def test_a_chat_round_trip_keeps_the_conversation(client: httpx.Client) -> None:
    first = chat(client, "where is my order")
    assert (first["intent"], first["decision"], first["seq"]) == ("order_status", "form", 1)
    assert set(first) >= WIDGET_READS
    assert first["reply"] == {"text": "What is your order number (e.g. A12345)?", "buttons": []}
    second = chat(client, "A12345", first["session_id"])
    assert second["session_id"] == first["session_id"]
    assert "A12345" in second["reply"]["text"]
    assert second["entities"][0] == {
        "type": "order_id",
        "value": "A12345",
        "start": 0,
        "end": 6,
        "source": "rule:order_id",  # the kefu.yml regex found it: the tiny project has no entity head
    }
    kb = chat(client, "能寄到香港吗")
    assert kb["decision"] == "kb" and kb["sources"] == [{"source": "faq.csv:4", "title": "可以寄到香港吗？"}]


def test_the_widget_polls_messages_after_a_sequence_number(client: httpx.Client) -> None:
    session = chat(client, "hello")["session_id"]
    chat(client, "where is my order", session)
    everything = poll(client, session).json()
    assert [(m["seq"], m["role"]) for m in everything["messages"]] == [
        (0, "customer"),
        (1, "bot"),
        (2, "customer"),
        (3, "bot"),
    ]
    assert everything["status"] == "bot" and everything["last_seq"] == 3
    newer = poll(client, session, 1).json()
    assert [m["seq"] for m in newer["messages"]] == [2, 3]
    nothing = poll(client, session, 3).json()
    assert nothing["messages"] == [] and nothing["last_seq"] == 3


def test_bad_requests_get_one_line_errors(client: httpx.Client) -> None:
    assert client.post("/api/v1/chat", json={"text": ""}).status_code == 422
    assert client.post("/api/v1/chat", json={"text": "   "}).json() == {"detail": "the message is empty"}
    missing = client.get("/api/v1/chat/0123456789abcdef/messages")
    assert missing.status_code == 404 and "unknown session" in missing.json()["detail"]


def test_health_and_metrics(client: httpx.Client, server: RunningServer) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model_version"] == server.services.bot.version
    assert health["knowledge_base"] is True and health["database"] in ("sqlite", "postgresql")  # not the URL
    assert health["database_status"] == "ok"
    chat(client, "hello")
    chat(client, "what is the weather tomorrow")
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    body = metrics.text
    assert 'kefu_turns_total{decision="reply"} 1.0' in body
    assert 'kefu_turns_total{decision="fallback"} 1.0' in body
    assert 'kefu_http_requests_total{method="POST",route="/api/v1/chat",status="200"} 2.0' in body
    assert 'kefu_http_request_seconds_bucket{le="0.5",method="POST",route="/api/v1/chat"}' in body
    assert f'kefu_model_info{{version="{server.services.bot.version}"}} 1.0' in body


def test_explain_true_adds_word_scores_and_the_default_does_not(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url, timeout=30) as http:
        assert chat(http, "where is my order")["explanation"] is None
        response = http.post("/api/v1/chat", json={"text": "where is my parcel", "explain": True})
        assert response.status_code == 200, response.text
        answer = response.json()
    explanation = answer["explanation"]
    assert explanation["intent"] == answer["intent"] == "order_status" and explanation["method"] == "ig"
    assert explanation["text"] == "where is my parcel"
    assert [(w["token"], w["start"], w["end"]) for w in explanation["tokens"]] == [
        ("where", 0, 5), ("is", 6, 8), ("my", 9, 11), ("parcel", 12, 18)
    ]
    total = sum(w["score"] for w in explanation["tokens"])
    assert abs(total - (explanation["probability"] - explanation["baseline"])) < 0.02


# --- who may read and continue a conversation -------------------------------------------------------

UNKNOWN = {"detail": "unknown session"}


def test_a_conversation_is_read_and_continued_only_with_the_key_its_first_answer_gave(client: httpx.Client):
    first = chat(client, "where is my order")
    session, key = first["session_id"], first["session_key"]
    assert len(key) >= 32 and key != session
    second = chat(client, "A12345", session)
    assert second["session_id"] == session and second["session_key"] is None  # handed out once
    assert [m["seq"] for m in poll(client, session).json()["messages"]] == [0, 1, 2, 3]
    messages = f"/api/v1/chat/{session}/messages"
    for headers in ({}, {"X-Session-Key": "wrong"}, {"X-Session-Key": key[:-1]}, {"X-Customer-Id": "u-1"}):
        refused = client.get(messages, headers=headers)
        assert (refused.status_code, refused.json()) == (404, UNKNOWN)  # as if there were no such session
    assert client.get("/api/v1/chat/0123456789abcdef/messages").json() == UNKNOWN
    # whoever has the id but not the key starts a conversation of their own, with a key of its own
    for headers in ({}, {"X-Session-Key": "wrong"}):
        body = {"session_id": session, "text": "hello"}
        other = client.post("/api/v1/chat", json=body, headers=headers).json()
        assert other["session_id"] != session and other["session_key"] not in (None, key)
    assert poll(client, session).json()["last_seq"] == 3


def test_only_the_keys_hash_is_stored(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        answer = chat(http, "hello")
    stored = sqlite_server.services.repo.get_conversation(answer["session_id"]).access_key_hash
    assert stored == hashlib.sha256(answer["session_key"].encode()).hexdigest()


def test_a_conversation_from_before_keys_is_read_only_by_its_customer(sqlite_server: RunningServer) -> None:
    repo = sqlite_server.services.repo
    owned = repo.get_or_create_conversation(None, customer_id="u-7").session_id  # no key, as before 0003
    anonymous = repo.get_or_create_conversation(None).session_id
    for session in (owned, anonymous):
        repo.add_turn(session, "customer", "hello")
    with httpx.Client(base_url=sqlite_server.url) as http:
        path = f"/api/v1/chat/{owned}/messages"
        for headers in ({}, {"X-Customer-Id": "u-8"}, {"X-Session-Key": "anything"}):
            assert http.get(path, headers=headers).json() == UNKNOWN
        assert len(http.get(path, headers={"X-Customer-Id": "u-7"}).json()["messages"]) == 1
        # an anonymous one stays readable by its unguessable id, as before: the widgets that keep it
        assert len(http.get(f"/api/v1/chat/{anonymous}/messages").json()["messages"]) == 1


def test_a_long_session_id_is_refused_in_a_short_answer_that_does_not_repeat_it(client: httpx.Client) -> None:
    for session in ("x" * 5000, "x" * 65):
        refused = client.get(f"/api/v1/chat/{session}/messages")
        assert refused.status_code == 422 and "xxxxxxxxxx" not in refused.text and len(refused.text) < 300


# --- a resent message is answered once --------------------------------------------------------------


def test_a_resent_message_is_recorded_once_and_answered_the_same(client: httpx.Client) -> None:
    session = chat(client, "hello")["session_id"]
    sent = chat(client, "where is my order", session, client_message_id="m-1")
    again = chat(client, "where is my order", session, client_message_id="m-1")
    asked = {"text": "What is your order number (e.g. A12345)?", "buttons": []}
    assert (sent["seq"], sent["reply"], sent["intent"]) == (3, asked, "order_status")
    assert (again["seq"], again["reply"], again["intent"]) == (3, asked, "order_status")
    assert again["decision"] == "form" and again["status"] == "bot"
    assert [m["role"] for m in poll(client, session).json()["messages"]] == ["customer", "bot"] * 2
    other = chat(client, "where is my order", session, client_message_id="m-2")  # another message
    assert other["seq"] == 5 and poll(client, session).json()["last_seq"] == 5


def test_concurrent_resends_are_recorded_once(client: httpx.Client, server: RunningServer) -> None:
    session = chat(client, "hello")["session_id"]
    barrier = threading.Barrier(4)

    def resend(_: int) -> dict:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            barrier.wait()
            return chat(http, "talk to a human", session, client_message_id="same-message")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(resend, range(4)))
    assert {(a["seq"], a["status"], a["decision"]) for a in answers} == {(3, "handoff", "handoff")}
    assert poll(client, session).json()["last_seq"] == 3
    assert len(server.services.repo.inbox()) == 1


def test_concurrent_exchanges_with_one_client_message_id_write_one(server: RunningServer) -> None:
    """Under the conversation's lock, past the bot's own check before the model: record_exchange itself."""
    repo = server.services.repo
    session = repo.get_or_create_conversation(None).session_id
    barrier = threading.Barrier(3)
    answered = []

    def respond(status: str, state: dict) -> BotTurn:
        answered.append(status)
        return BotTurn(text="an answer", state=state)

    def exchange(_: int) -> Recorded:
        barrier.wait()
        return record_exchange(repo, session, "hi", {}, respond, client_message_id="m-9")

    with ThreadPoolExecutor(3) as pool:
        recorded = list(pool.map(exchange, range(3)))
    assert len(answered) == 1 and sorted(r.replayed for r in recorded) == [False, True, True]
    assert {(r.customer.seq, r.customer.client_message_id, r.bot.seq, r.bot.text) for r in recorded} == {
        (0, "m-9", 1, "an answer")
    }
    assert [t.role for t in repo.history(session)] == ["customer", "bot"]


@pytest.mark.parametrize("bad", ["", "x" * 65, "has space", "é"])
def test_a_client_message_id_is_short_and_plain(client: httpx.Client, bad: str) -> None:
    refused = client.post("/api/v1/chat", json={"text": "hello", "client_message_id": bad})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "client_message_id"]
