"""Erasure, retention and closing leave nothing of the customer in any table, and touch nobody else.

Every check reads the whole database with plain SQL (tests.support.store.stored_texts), not through the
repository, so a copy of the data in a column the code forgot would be found.
"""

import threading
import uuid

import pytest

from kefu.store import InvalidValueError, Repository, Store
from tests.support.store import leaks, stored_texts


def _conversation(repo: Repository, customer_id: str | None, marker: str, agent_id: int) -> str:
    """A conversation touching every table: turns, a review, feedback, a claimed ticket, slots in its
    state; `marker` is in every text the customer or the agent wrote."""
    sid = repo.get_or_create_conversation(None, customer_id=customer_id).session_id
    question = repo.add_turn(
        sid,
        "customer",
        f"my order {marker}-order?",
        intent="order_status",
        confidence=0.4,
        entities=[{"type": "order_id", "value": f"{marker}-order", "start": 9, "end": 20}],
        review="low_confidence",
    )
    answer = repo.add_turn(sid, "bot", f"Order {marker}-order is on its way.", decision="reply")
    repo.add_feedback(answer.id, -1, f"too slow {marker}-comment")
    repo.save_state(sid, {"slots": {"order_id": f"{marker}-order", "note": f"{marker}-slot"}})
    repo.open_handoff(sid, "requested")
    repo.claim(sid, agent_id)
    repo.add_turn(sid, "agent", f"Hello {marker}-agent", agent_id=agent_id)
    repo.add_review(question.id, "fallback")
    return sid


def _marker() -> str:
    return f"mark{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def agent(repo: Repository) -> int:
    return repo.create_user("alice", "pw-for-tests").id


def test_erasing_a_customer_leaves_nothing_of_them_and_everything_of_others(repo, agent):
    erased, kept, anonymous = _marker(), _marker(), _marker()
    erased_sessions = [_conversation(repo, "cust-erased", erased, agent) for _ in range(2)]
    kept_session = _conversation(repo, "cust-kept", kept, agent)
    anonymous_session = _conversation(repo, None, anonymous, agent)
    before = {table for table, _, value in stored_texts(repo.store) if kept in value}

    assert repo.erase_customer("cust-erased") == 2

    assert leaks(repo.store, [erased, "cust-erased", *erased_sessions]) == []
    # the others' rows are all still there, every table that held their marker still does
    assert {table for table, _, value in stored_texts(repo.store) if kept in value} == before
    assert before == {"conversations", "turns", "feedback"}
    for sid in (kept_session, anonymous_session):
        assert len(repo.history(sid)) == 3
    assert len(repo.review_queue()) == 4
    assert repo.erase_customer("cust-erased") == 0
    assert repo.erase_customer("nobody-at-all") == 0


def test_deleting_one_conversation_leaves_nothing_of_it(repo, agent):
    doomed, kept = _marker(), _marker()
    doomed_session = _conversation(repo, "cust-1", doomed, agent)
    kept_session = _conversation(repo, "cust-1", kept, agent)
    assert repo.delete_conversation(doomed_session) is True
    assert leaks(repo.store, [doomed, doomed_session]) == []
    assert leaks(repo.store, [kept, kept_session]) != []
    assert repo.get_conversation(kept_session).customer_id == "cust-1"


def test_purging_old_conversations_leaves_nothing_of_them(timed_repo, clock, repo):
    agent = timed_repo.create_user("alice", "pw-for-tests").id
    old, recent = _marker(), _marker()
    old_session = _conversation(timed_repo, "cust-old", old, agent)
    clock.advance(days=31)
    recent_session = _conversation(timed_repo, "cust-old", recent, agent)
    assert timed_repo.purge_older_than(30) == 1
    assert leaks(timed_repo.store, [old, old_session]) == []
    assert timed_repo.get_conversation(recent_session) is not None


def test_workers_purging_at_once_delete_each_conversation_once(timed_repo, clock):
    for _ in range(6):
        timed_repo.add_turn(timed_repo.get_or_create_conversation(None).session_id, "customer", "hi")
    clock.advance(days=10)
    # separate repositories on separate stores, as separate server workers would have
    workers = [Repository(Store(timed_repo.store.url), clock=clock) for _ in range(3)]
    counts: list[int] = []
    start = threading.Barrier(len(workers))

    def purge(worker: Repository) -> None:
        start.wait()
        counts.append(worker.purge_older_than(5))

    threads = [threading.Thread(target=purge, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for worker in workers:
        worker.store.dispose()
    assert len(counts) == len(workers) and sum(counts) == 6
    assert timed_repo.list_conversations() == []


def test_closing_deletes_slot_values_except_the_kept_slots(repo, agent):
    marker = _marker()
    sid = _conversation(repo, "cust-1", marker, agent)
    repo.save_state(sid, {"slots": {"order_id": "A12345", "phone": f"{marker}-phone"}, "active_form": "f"})

    closed = repo.close_conversation(sid, keep_slots=["order_id"])

    assert closed.status == "closed" and closed.state == {"slots": {"order_id": "A12345"}, "active_form": "f"}
    assert leaks(repo.store, [f"{marker}-phone"]) == []
    assert repo.inbox("claimed") == []
    assert repo.close_conversation(sid).state["slots"] == {}  # by default no slot is kept


def test_closing_drops_a_damaged_slots_field_whole(repo):
    sid = repo.get_or_create_conversation(None).session_id
    repo.save_state(sid, {"slots": ["not", "a", "mapping"], "fallback_count": 1})
    assert repo.close_conversation(sid, keep_slots=["not"]).state == {"fallback_count": 1}


def test_the_customer_id_is_kept_and_never_adopted_by_another_customer(repo):
    mine = repo.get_or_create_conversation(None, customer_id="u-1")
    assert mine.customer_id == "u-1"
    assert repo.get_or_create_conversation(mine.session_id, customer_id="u-1") == mine
    # another customer, or nobody signed in, does not continue it: a new conversation starts
    for other in ("u-2", None):
        started = repo.get_or_create_conversation(mine.session_id, customer_id=other)
        assert started.session_id != mine.session_id and started.customer_id == other
    # a customer who signs in while chatting takes the anonymous conversation over
    anonymous = repo.get_or_create_conversation(None)
    assert anonymous.customer_id is None
    signed_in = repo.get_or_create_conversation(anonymous.session_id, customer_id="u-3")
    assert (signed_in.session_id, signed_in.customer_id) == (anonymous.session_id, "u-3")
    assert repo.erase_customer("u-3") == 1 and repo.get_conversation(anonymous.session_id) is None


@pytest.mark.parametrize("bad", ["", "   ", "x" * 129, 42])
def test_a_bad_customer_id_is_refused_naming_the_field(repo, bad):
    with pytest.raises(InvalidValueError, match="customer_id must be a non-blank string of at most 128"):
        repo.get_or_create_conversation(None, customer_id=bad)
    with pytest.raises(InvalidValueError, match="customer_id"):
        repo.erase_customer(bad)
