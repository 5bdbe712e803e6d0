"""Topic and sentiment trends in the analytics API, and clusters of unanswered questions accepted as an
intent, over a real server (SQLite and PostgreSQL where storage is the subject)."""

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest

from kefu.data import load_examples
from kefu.project import load_project
from kefu.runtime import export_reviewed
from kefu.runtime.clusters import ClusterFinder
from kefu.store import Repository
from tests.support.project import WordEmbedder, project_copy
from tests.support.server import RunningServer, chat, login, new_agent, start_server, wait_for_job
from tests.support.store import sqlite_copy

GIFT_CARD = [
    "do you sell gift card",
    "can I buy a gift card",
    "gift card for my mother",
    "gift card online?",
    "price of a gift card",
]
INVOICE = [
    "I need an invoice",
    "send me an invoice please",
    "invoice for my purchase",
    "can I get a VAT invoice",
]


def unanswered(repo: Repository, texts: Sequence[str]) -> list[int]:
    """Customer turns the bot answered with the fallback (alternately: found out of scope), queued for
    review as the bot queues them; their ids."""
    ids = []
    for i, text in enumerate(texts):
        session = repo.get_or_create_conversation(None).session_id
        reason = "fallback" if i % 2 else "oos"
        ids.append(repo.add_turn(session, "customer", text, intent="out_of_scope", review=reason).id)
        repo.add_turn(session, "bot", "Sorry, I didn't understand that.", decision="fallback")
    return ids


def test_analytics_shows_topics_per_day_and_sentiment_per_topic(client: httpx.Client, server: RunningServer):
    repo = server.services.repo
    session = repo.get_or_create_conversation(None).session_id
    for intent, sentiment, score in [
        ("refund", "negative", -0.8),
        ("refund", "negative", -0.4),
        ("refund", "neutral", None),
        ("order_status", "positive", 0.6),
        ("order_status", None, None),
        ("greet", "positive", 0.9),
    ]:
        repo.add_turn(session, "customer", "words", intent=intent, sentiment=sentiment, sentiment_score=score)
    unanswered(repo, ["what is this", "hm?"])
    admin = login(client)
    answer = client.get("/api/v1/admin/analytics", params={"days": 3, "topics": 2}, headers=admin)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["topics"]["topics"] == ["refund", "order_status"]
    assert [d["day"] for d in data["topics"]["days"]] == [d["day"] for d in data["turns_per_day"]]
    assert data["topics"]["days"][-1]["counts"] == {"refund": 3, "order_status": 2}
    assert data["topics"]["days"][-1]["other"] == 3  # greet and the two out_of_scope questions
    assert sum(d["other"] for d in data["topics"]["days"][:-1]) == 0
    sentiment = {t["intent"]: (t["total"], t["counts"], t["mean_score"]) for t in data["topic_sentiment"]}
    assert sentiment == {
        "refund": (3, {"negative": 2, "neutral": 1}, pytest.approx(-0.6)),
        "order_status": (1, {"positive": 1}, pytest.approx(0.6)),
        "greet": (1, {"positive": 1}, pytest.approx(0.9)),
    }
    assert data["unanswered"] == 2
    assert client.get("/api/v1/admin/analytics", params={"topics": 0}, headers=admin).status_code == 422


def test_unanswered_questions_that_look_alike_become_an_intent(
    client: httpx.Client, server: RunningServer, tmp_path: Path
) -> None:
    repo = server.services.repo
    gift = unanswered(repo, GIFT_CARD)
    invoice = unanswered(repo, INVOICE)
    session = repo.get_or_create_conversation(None).session_id
    repo.add_turn(session, "customer", "gift card", intent="faq")  # answered: in no cluster
    # the bot guessed, unsure: not unanswered, but an accept naming it labels it too
    low = repo.add_turn(session, "customer", "gift card maybe", intent="faq", review="low_confidence")
    agent = new_agent(client, login(client), "mei")

    found = client.get("/api/v1/admin/clusters", params={"days": 7}, headers=agent)
    assert found.status_code == 200, found.text
    report = found.json()
    assert (report["days"], report["unanswered"], report["clustered"]) == (7, 9, 9)
    assert report["embedder"] == WordEmbedder.name
    by_size = sorted(report["clusters"], key=lambda c: -c["size"])
    assert [sorted(c["turn_ids"]) for c in by_size] == [sorted(gift), sorted(invoice)]
    cards = by_size[0]
    assert cards["size"] == 5 and not cards["mixed"] and 0 < cards["cohesion"] <= 1
    assert {"gift", "card"} <= {t["term"] for t in cards["terms"]} and "gift" in cards["name"]
    assert set(cards["examples"]) <= set(GIFT_CARD) and cards["examples"]
    # asked again while nothing changed: the same result, not computed again
    assert client.get("/api/v1/admin/clusters", params={"days": 7}, headers=agent).json() == report

    refused = client.post(
        "/api/v1/admin/clusters/accept", json={"intent": "gift card!", "turn_ids": gift}, headers=agent
    )
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("invalid intent name: an intent name is a letter")
    assert "gift card!" not in refused.text  # the submitted text is not echoed
    assert repo.count_unanswered(7) == 9

    accepted = client.post(
        "/api/v1/admin/clusters/accept",
        json={"intent": " gift_card ", "turn_ids": [*cards["turn_ids"], low.id, 2_000_000]},
        headers=agent,
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "intent": "gift_card",
        "new_intent": True,
        "turn_ids": sorted([*gift, low.id]),
        "skipped": [2_000_000],
    }
    labelled = {r.turn_id: (r.corrected_intent, r.text) for r in repo.review_queue("labelled")}
    assert labelled == {
        turn: ("gift_card", text) for turn, text in zip([*gift, low.id], [*GIFT_CARD, "gift card maybe"])
    }
    # they left the queue and the clusters; the other cluster stays
    pending = client.get("/api/v1/admin/reviews", headers=agent).json()
    assert sorted(r["turn_id"] for r in pending) == sorted(invoice)
    after = client.get("/api/v1/admin/clusters", params={"days": 7}, headers=agent).json()
    assert [sorted(c["turn_ids"]) for c in after["clusters"]] == [sorted(invoice)]
    assert after["unanswered"] == 4
    again = client.post(
        "/api/v1/admin/clusters/accept", json={"intent": "gift_card", "turn_ids": gift}, headers=agent
    )
    assert again.status_code == 409 and "waiting in the review queue" in again.json()["detail"]

    existing = client.post(
        "/api/v1/admin/clusters/accept", json={"intent": "faq", "turn_ids": invoice[:1]}, headers=agent
    )
    assert existing.json()["new_intent"] is False
    # the same mechanism as the review queue: the next retrain's data/reviewed.yml holds them
    project = project_copy(server.services.bot.project.root, tmp_path / "shop")
    export_reviewed(repo, load_project(project))
    examples = {(e.text, e.label) for e in load_examples(project / "data" / "reviewed.yml")}
    assert examples == {(text, "gift_card") for text in [*GIFT_CARD, "gift card maybe"]} | {
        (INVOICE[0], "faq")
    }


def test_bad_requests_get_one_clear_answer(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        admin = login(http)
        assert http.get("/api/v1/admin/clusters").status_code == 401
        assert http.get("/api/v1/admin/clusters", params={"days": 0}, headers=admin).status_code == 422
        empty = http.get("/api/v1/admin/clusters", headers=admin).json()
        assert (empty["clusters"], empty["unanswered"]) == ([], 0)
        for body in (
            {"intent": "x", "turn_ids": []},
            {"intent": "x", "turn_ids": [0]},
            {"intent": "", "turn_ids": [1]},
            {"turn_ids": [1]},
        ):
            assert http.post("/api/v1/admin/clusters/accept", json=body, headers=admin).status_code == 422
        for name in ("1st", "_x", "a b", "faq//x", "x" * 65, "退款?"):
            answer = http.post(
                "/api/v1/admin/clusters/accept", json={"intent": name, "turn_ids": [1]}, headers=admin
            )
            assert answer.status_code == 422 and isinstance(answer.json()["detail"], str), name
        # valid names (another script, parts): refused only because turn 1 is not waiting for review
        for name in ("退款_申请", "faq/gift_card", "x" * 64):
            answer = http.post(
                "/api/v1/admin/clusters/accept", json={"intent": name, "turn_ids": [1]}, headers=admin
            )
            assert answer.status_code == 409, name


class SlowEmbedder(WordEmbedder):
    """The test embedder, taking a while per batch, counting its calls."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.calls = seconds, 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        time.sleep(self.seconds)
        return super().embed_queries(texts)


@pytest.fixture()
def slow_server(tiny_project: Path, sqlite_template: Path, tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(tiny_project, sqlite_copy(sqlite_template, tmp_path)) as running:
        yield running


def test_clustering_runs_beside_the_chat_and_once_per_window(slow_server: RunningServer) -> None:
    services = slow_server.services
    slow = SlowEmbedder(3.0)
    services.clusters = ClusterFinder(services.bot, embedder=slow)
    unanswered(services.repo, GIFT_CARD)
    results: list[dict] = []

    def ask() -> None:
        with httpx.Client(base_url=slow_server.url, timeout=30) as http:
            results.append(http.get("/api/v1/admin/clusters", headers=admin).json())

    with httpx.Client(base_url=slow_server.url, timeout=30) as http:
        admin = login(http)
        askers = [threading.Thread(target=ask) for _ in range(2)]
        for asker in askers:
            asker.start()
        time.sleep(0.3)  # the first is embedding now
        started = time.monotonic()
        assert http.get("/healthz").status_code == 200
        chat(http, "hello")
        assert time.monotonic() - started < 1.5  # the event loop and the chat did not wait for it
        for asker in askers:
            asker.join(30)
    assert len(results) == 2 and results[0] == results[1] and results[0]["clusters"]
    assert slow.calls == 1  # the second request found the first one's result


def test_results_are_kept_for_a_while_only(slow_server: RunningServer) -> None:
    services = slow_server.services
    now = [0.0]
    counting = SlowEmbedder(0.0)
    finder = ClusterFinder(services.bot, embedder=counting, ttl=60, clock=lambda: now[0])
    unanswered(services.repo, GIFT_CARD)
    first = finder.report(7)
    assert finder.report(7) == first and counting.calls == 1
    now[0] = 61.0
    assert finder.report(7).clusters == first.clusters
    # computed afresh, but the texts' vectors were remembered: no embedding
    assert counting.calls == 1
    unanswered(services.repo, ["gift card as a present"])
    assert finder.report(7).clustered == 6 and counting.calls == 2  # for the one new text


def test_the_next_retrain_learns_the_accepted_intent(
    tiny_project: Path, sqlite_template: Path, tmp_path: Path
) -> None:
    project = project_copy(tiny_project, tmp_path / "shop")
    with (
        start_server(project, sqlite_copy(sqlite_template, tmp_path)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        admin = login(http)
        gift = unanswered(server.services.repo, GIFT_CARD)
        unanswered(server.services.repo, INVOICE)
        clusters = http.get("/api/v1/admin/clusters", headers=admin).json()["clusters"]
        [cluster] = [c for c in clusters if set(c["turn_ids"]) == set(gift)]
        body = {"intent": "gift_card", "turn_ids": cluster["turn_ids"]}
        assert http.post("/api/v1/admin/clusters/accept", json=body, headers=admin).json()["new_intent"]
        assert "gift_card" not in http.get("/api/v1/admin/intents", headers=admin).json()["intents"]
        job = wait_for_job(http, admin, http.post("/api/v1/admin/retrain", headers=admin).json()["id"])
        assert job["status"] == "succeeded" and job["reviewed_examples"] == 5, job
        assert "gift_card" in http.get("/api/v1/admin/intents", headers=admin).json()["intents"]
        predicted = http.post("/api/v1/admin/predict", json={"text": "buy a gift card"}, headers=admin).json()
        assert predicted["intent"] == "gift_card"
