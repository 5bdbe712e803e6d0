"""Conversations and turns: round trip, restart continuity, search, and seq under concurrency."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import numpy as np
import pytest
from pydantic import TypeAdapter

from kefu.store import InvalidValueError, NotFoundError, Repository, Store, TurnRecord
from tests.support.store import CHEAP_HASHER


def test_conversation_and_turns_round_trip(repo):
    conv = repo.get_or_create_conversation(None, channel="wechat", language="zh")
    assert len(conv.session_id) == 32 and conv.status == "bot" and conv.state == {}
    assert conv.channel == "wechat" and conv.language == "zh"
    assert conv.created_at.tzinfo is UTC

    first = repo.add_turn(
        conv.session_id,
        "customer",
        "我的订单到哪了 [PHONE]",
        intent="order_status",
        confidence=0.91,
        oos=False,
        entities=[{"type": "phone", "start": 8, "end": 15}],
        sentiment="neutral",
        sentiment_score=0.1,
        model_version="m-2026-03",
    )
    second = repo.add_turn(
        conv.session_id,
        "bot",
        "Your order ships tomorrow.",
        decision="reply",
        sources=[{"doc": "faq.md", "score": 0.8}],
        buttons=["Thanks", "Talk to a human"],
    )
    assert (first.seq, second.seq) == (0, 1)

    turns = repo.history(conv.session_id)
    assert turns == [first, second]  # what add_turn returned is what was stored
    assert turns[0].entities == [{"type": "phone", "start": 8, "end": 15}]
    assert turns[0].text == "我的订单到哪了 [PHONE]" and turns[0].oos is False
    assert turns[1].buttons == ["Thanks", "Talk to a human"] and turns[1].intent is None
    assert turns[1].created_at.tzinfo is UTC
    assert repo.turn(second.id) == second
    # The server serialises records with Pydantic as they are.
    dumped = TypeAdapter(list[TurnRecord]).dump_python(turns, mode="json")
    assert dumped[0]["sources"] is None and dumped[1]["sources"] == [{"doc": "faq.md", "score": 0.8}]
    assert dumped[0]["created_at"].endswith("Z")
    assert repo.get_conversation(conv.session_id).updated_at >= second.created_at


def test_unknown_or_missing_session_gets_a_new_id(repo):
    known = repo.get_or_create_conversation(None)
    assert repo.get_or_create_conversation(known.session_id).id == known.id
    stranger = repo.get_or_create_conversation("f" * 32)
    assert stranger.session_id != "f" * 32 and stranger.id != known.id
    assert repo.get_conversation("f" * 32) is None


def test_history_returns_the_last_turns_in_order(repo):
    sid = repo.get_or_create_conversation(None).session_id
    for i in range(5):
        repo.add_turn(sid, "customer" if i % 2 == 0 else "bot", f"message {i}")
    assert [t.seq for t in repo.history(sid, limit=3)] == [2, 3, 4]


def test_bad_arguments_are_refused(repo):
    sid = repo.get_or_create_conversation(None).session_id
    with pytest.raises(TypeError, match="colour"):
        repo.add_turn(sid, "bot", "hi", colour="red")
    with pytest.raises(InvalidValueError, match="role"):
        repo.add_turn(sid, "robot", "hi")
    with pytest.raises(NotFoundError):
        repo.add_turn("0" * 32, "bot", "hi")
    with pytest.raises(NotFoundError):
        repo.history("0" * 32)
    with pytest.raises(InvalidValueError):
        repo.list_conversations(status="sleeping")


def test_state_survives_a_restart(db_url):
    state = {"slots": {"order_id": "A123"}, "form": "refund", "fallbacks": 1, "last_intents": ["refund"]}
    first = Store(db_url)
    first.migrate()
    repo = Repository(first, password_hasher=CHEAP_HASHER)
    sid = repo.get_or_create_conversation(None).session_id
    repo.add_turn(sid, "customer", "I want a refund", intent="refund")
    repo.save_state(sid, state, language="en")
    first.dispose()

    # A new process: a new Store on the same URL.
    again = Repository(Store(db_url), password_hasher=CHEAP_HASHER)
    conv = again.get_or_create_conversation(sid)
    assert conv.session_id == sid and conv.state == state and conv.language == "en"
    assert [t.text for t in again.history(sid)] == ["I want a refund"]
    assert again.add_turn(sid, "bot", "Which order?").seq == 1
    again.store.dispose()


def test_concurrent_sessions_stay_apart_and_seq_is_unique(repo):
    sessions = [repo.get_or_create_conversation(None).session_id for _ in range(2)]
    per_thread, threads_per_session = 8, 3

    def talk(sid: str, name: str) -> None:
        for i in range(per_thread):
            repo.add_turn(sid, "customer", f"{sid}:{name}:{i}")

    with ThreadPoolExecutor(max_workers=len(sessions) * threads_per_session) as pool:
        jobs = [pool.submit(talk, sid, f"t{n}") for sid in sessions for n in range(threads_per_session)]
        for job in jobs:
            job.result()  # re-raises, in this thread, whatever failed in the worker
    for sid in sessions:
        turns = repo.history(sid, limit=1000)
        assert [t.seq for t in turns] == list(range(per_thread * threads_per_session))
        assert all(t.text.startswith(sid) for t in turns)
        for n in range(threads_per_session):  # each thread's turns kept their own order
            mine = [int(t.text.rsplit(":", 1)[1]) for t in turns if f":t{n}:" in t.text]
            assert mine == list(range(per_thread))


def test_list_conversations_searches_turn_text(repo):
    refund = repo.get_or_create_conversation(None).session_id
    repo.add_turn(refund, "customer", "I want a REFUND for order 100%")
    greet = repo.get_or_create_conversation(None).session_id
    repo.add_turn(greet, "customer", "你好，我要退款")
    repo.add_turn(greet, "bot", "Hello!")
    repo.open_handoff(greet, "requested")

    assert [c.session_id for c in repo.list_conversations()] == [greet, refund]  # latest activity first
    assert [c.session_id for c in repo.list_conversations("refund")] == [refund]
    assert [c.session_id for c in repo.list_conversations("退款")] == [greet]
    assert [c.session_id for c in repo.list_conversations("100%")] == [refund]
    assert repo.list_conversations("1_0") == []  # LIKE wildcards in the query are literal
    assert [c.session_id for c in repo.list_conversations(refund)] == [refund]  # a session id
    assert [c.session_id for c in repo.list_conversations(status="handoff")] == [greet]
    assert repo.list_conversations("hello", status="bot") == []
    assert [c.session_id for c in repo.list_conversations(limit=1, offset=1)] == [refund]


def test_model_outputs_are_accepted_as_they_come(repo):
    sid = repo.get_or_create_conversation(None).session_id
    turn = repo.add_turn(
        sid,
        "customer",
        "退款",
        confidence=np.float32(0.75),
        oos=np.bool_(False),
        entities=[{"score": np.float32(0.5), "span": np.array([0, 2])}],
        sentiment={"label": "negative", "score": np.float64(-0.7)},
    )
    stored = repo.history(sid)[0]
    assert stored == turn
    assert stored.confidence == 0.75 and stored.oos is False
    assert stored.entities == [{"score": 0.5, "span": [0, 2]}]
    assert (stored.sentiment, stored.sentiment_score) == ("negative", -0.7)


def test_a_nul_character_is_refused_naming_its_field_on_every_backend(repo):
    """PostgreSQL cannot store NUL and SQLite could: the store refuses it on both, before either sees it."""
    sid = repo.get_or_create_conversation(None).session_id
    refused = {
        "turns.text": lambda: repo.add_turn(sid, "customer", "where is my order\x00"),
        "turns.entities": lambda: repo.add_turn(sid, "customer", "hi", entities=[{"value": "A1\x00"}]),
        "conversations.state": lambda: repo.save_state(sid, {"slots": {"order\x00id": "A12345"}}),
        "conversations.channel": lambda: repo.get_or_create_conversation(None, channel="web\x00"),
        "customer_id": lambda: repo.erase_customer("cust\x00"),
        "session_id": lambda: repo.get_conversation(sid + "\x00"),
    }
    for field, call in refused.items():
        with pytest.raises(InvalidValueError, match=rf"^{field} must not contain NUL characters"):
            call()
    # nothing of it was stored, and the store still works
    assert repo.history(sid) == [] and repo.get_conversation(sid).state == {}
    assert repo.add_turn(sid, "customer", "where is my order").seq == 0
