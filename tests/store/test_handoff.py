"""Handoff tickets: open, claim, release, inbox."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from kefu.store import ConflictError, NotFoundError


@pytest.fixture()
def agents(repo):
    return repo.create_user("alice", "pw-alice", "agent").id, repo.create_user("bob", "pw-bob", "agent").id


def test_open_claim_release(repo, agents):
    alice, bob = agents
    sid = repo.get_or_create_conversation(None).session_id
    ticket = repo.open_handoff(sid, "requested")
    assert (ticket.status, ticket.reason, ticket.session_id) == ("open", "requested", sid)
    assert repo.get_conversation(sid).status == "handoff"
    assert repo.open_handoff(sid, "sentiment").id == ticket.id  # asking twice does not queue twice
    assert [t.id for t in repo.inbox()] == [ticket.id]

    claimed = repo.claim(ticket.id, alice)
    assert claimed.status == "claimed" and claimed.agent_id == alice and claimed.claimed_at is not None
    conv = repo.get_conversation(sid)
    assert (conv.status, conv.assigned_agent_id) == ("human", alice)
    assert repo.inbox() == [] and [t.id for t in repo.inbox("claimed", agent_id=alice)] == [ticket.id]
    assert repo.inbox("claimed", agent_id=bob) == []
    assert repo.claim(sid, alice).id == ticket.id  # same agent again, by session: no-op
    with pytest.raises(ConflictError, match="already claimed by agent"):
        repo.claim(ticket.id, bob)

    repo.add_turn(sid, "agent", "Hi, Alice here.", agent_id=alice)
    conv = repo.release_to_bot(sid)
    assert (conv.status, conv.assigned_agent_id) == ("bot", None)
    closed = repo.inbox("closed")
    assert [t.id for t in closed] == [ticket.id] and closed[0].closed_at is not None
    with pytest.raises(ConflictError, match="closed"):
        repo.claim(ticket.id, bob)


def test_agent_takes_over_without_a_request(repo, agents):
    alice, _ = agents
    sid = repo.get_or_create_conversation(None).session_id
    ticket = repo.claim(sid, alice)
    assert (ticket.reason, ticket.status, ticket.agent_id) == ("agent", "claimed", alice)
    assert repo.get_conversation(sid).status == "human"


def test_unknown_ids(repo, agents):
    alice, _ = agents
    with pytest.raises(NotFoundError):
        repo.claim(12345, alice)
    sid = repo.get_or_create_conversation(None).session_id
    with pytest.raises(NotFoundError, match="user"):
        repo.claim(sid, 999)
    with pytest.raises(NotFoundError):
        repo.open_handoff("0" * 32, "requested")


def test_two_agents_claiming_at_once_one_wins(repo, agents):
    sid = repo.get_or_create_conversation(None).session_id
    ticket = repo.open_handoff(sid, "requested")

    def claim(agent_id):
        try:
            return repo.claim(ticket.id, agent_id).agent_id
        except ConflictError:
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        winners = [w for w in pool.map(claim, agents) if w is not None]
    assert len(winners) == 1
    assert repo.get_conversation(sid).assigned_agent_id == winners[0]
