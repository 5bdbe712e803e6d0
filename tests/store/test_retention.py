"""Deleting a conversation takes everything attached to it, and nothing else."""

from sqlalchemy import func, select

from kefu.store.models import Conversation, Feedback, HandoffTicket, Review, Turn, User


def _counts(repo):
    with repo.store.read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Conversation, Turn, HandoffTicket, Review, Feedback, User)
        }


def _populated_conversation(repo, agent_id):
    sid = repo.get_or_create_conversation(None).session_id
    question = repo.add_turn(
        sid, "customer", "refund?", intent="refund", confidence=0.3, review="low_confidence"
    )
    answer = repo.add_turn(sid, "bot", "Let me get someone.", decision="handoff")
    repo.add_feedback(answer.id, -1, "slow")
    repo.open_handoff(sid, "requested")
    repo.claim(sid, agent_id)
    repo.add_turn(sid, "agent", "Hi!", agent_id=agent_id)
    repo.add_review(question.id, "fallback")
    return sid


def test_delete_conversation_cascades(repo):
    agent = repo.create_user("alice", "pw").id
    doomed = _populated_conversation(repo, agent)
    kept = _populated_conversation(repo, agent)
    assert _counts(repo) == {
        "conversations": 2,
        "turns": 6,
        "handoff_tickets": 2,
        "reviews": 4,
        "feedback": 2,
        "users": 1,
    }

    assert repo.delete_conversation(doomed) is True
    assert _counts(repo) == {
        "conversations": 1,
        "turns": 3,
        "handoff_tickets": 1,
        "reviews": 2,
        "feedback": 1,
        "users": 1,
    }
    assert repo.get_conversation(doomed) is None and len(repo.history(kept)) == 3
    assert repo.delete_conversation(doomed) is False


def test_purge_older_than(timed_repo, clock):
    old = timed_repo.get_or_create_conversation(None).session_id
    timed_repo.add_turn(old, "customer", "old news")
    clock.advance(days=40)
    recent = timed_repo.get_or_create_conversation(None).session_id
    timed_repo.add_turn(recent, "customer", "fresh")
    assert timed_repo.purge_older_than(30) == 1
    assert timed_repo.get_conversation(old) is None and timed_repo.get_conversation(recent) is not None
    assert _counts(timed_repo)["turns"] == 1
