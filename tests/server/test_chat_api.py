"""The public API over a real server: chat round trips, polling for messages, health and metrics."""

import httpx

from tests.server.helpers import RunningServer, chat


def test_a_chat_round_trip_keeps_the_conversation(client: httpx.Client) -> None:
    first = chat(client, "where is my order")
    assert (first["intent"], first["decision"], first["seq"]) == ("order_status", "form", 1)
    assert set(first) >= {
        "session_id",
        "reply",
        "intent",
        "confidence",
        "entities",
        "sentiment",
        "sources",
        "handoff",
    }
    assert first["reply"] == {"text": "What is your order number (e.g. A12345)?", "buttons": []}
    second = chat(client, "A12345", first["session_id"])
    assert second["session_id"] == first["session_id"]
    assert "A12345" in second["reply"]["text"]
    assert second["entities"][0] | {"source": None} == {
        "type": "order_id",
        "value": "A12345",
        "start": 0,
        "end": 6,
        "source": None,
    }
    kb = chat(client, "能寄到香港吗")
    assert kb["decision"] == "kb" and kb["sources"] == [{"source": "faq.csv:4", "title": "可以寄到香港吗？"}]


def test_the_widget_polls_messages_after_a_sequence_number(client: httpx.Client) -> None:
    session = chat(client, "hello")["session_id"]
    chat(client, "where is my order", session)
    everything = client.get(f"/api/v1/chat/{session}/messages").json()
    assert [(m["seq"], m["role"]) for m in everything["messages"]] == [
        (0, "customer"),
        (1, "bot"),
        (2, "customer"),
        (3, "bot"),
    ]
    assert everything["status"] == "bot" and everything["last_seq"] == 3
    newer = client.get(f"/api/v1/chat/{session}/messages", params={"after": 1}).json()
    assert [m["seq"] for m in newer["messages"]] == [2, 3]
    nothing = client.get(f"/api/v1/chat/{session}/messages", params={"after": 3}).json()
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
