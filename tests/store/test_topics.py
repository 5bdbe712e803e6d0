"""Topic and sentiment trends, unanswered turns and labelling many turns at once, on a hand-made dataset
whose answers are counted by hand (SQLite and PostgreSQL)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from kefu.store import InvalidValueError, NotFoundError


@pytest.fixture()
def dataset(timed_repo, clock):
    """Customer turns over the last days of a 3-day window (today is 2026-03-10) and one older turn.

    day        refund                 order_status   greet            out_of_scope      other
    03-08      neg, neg(-0.8)         neu            pos(0.9)         -                 -
    03-09      neg(-0.4), pos(0.2)    -              -                2 (none), 1 neu   faq (neg)
    03-10      -                      neu, neu       -                1 (none)          -
    02-20      refund neg (outside the window)
    """
    repo = timed_repo

    def at(day: int, month: int = 3) -> str:
        clock.now = datetime(2026, month, day, 9, tzinfo=UTC)
        return repo.get_or_create_conversation(None).session_id

    def say(sid: str, intent: str, sentiment: str | None = None, score: float | None = None, **more):
        turn = repo.add_turn(
            sid,
            "customer",
            f"{intent} text",
            intent=intent,
            sentiment=sentiment,
            sentiment_score=score,
            **more,
        )
        repo.add_turn(sid, "bot", "ok", decision="reply")
        return turn

    old = at(20, month=2)
    say(old, "refund", "negative", -0.9)

    s = at(8)
    say(s, "refund", "negative")
    say(s, "refund", "negative", -0.8)
    say(s, "order_status", "neutral")
    say(s, "greet", "positive", 0.9)

    s = at(9)
    say(s, "refund", "negative", -0.4)
    say(s, "refund", "positive", 0.2)
    say(s, "out_of_scope")
    say(s, "out_of_scope")
    say(s, "out_of_scope", "neutral")
    say(s, "faq", "negative")

    s = at(10)
    say(s, "order_status", "neutral")
    say(s, "order_status", "neutral")
    say(s, "out_of_scope")
    repo.add_turn(s, "customer", "no intent at all")  # a turn without a prediction is no topic
    repo.add_turn(s, "agent", "agent words", intent="refund")  # only customers' turns count

    clock.now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    return repo


def test_topic_trend_counts_the_top_topics_per_day(dataset):
    trend = dataset.topic_trend(3, top=3)
    # refund 4, out_of_scope 4, order_status 3, greet 1, faq 1: ties by name
    assert trend.topics == ["out_of_scope", "refund", "order_status"]
    assert [d.day for d in trend.days] == [date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]
    assert [(d.counts, d.other) for d in trend.days] == [
        ({"out_of_scope": 0, "refund": 2, "order_status": 1}, 1),  # greet
        ({"out_of_scope": 3, "refund": 2, "order_status": 0}, 1),  # faq
        ({"out_of_scope": 1, "refund": 0, "order_status": 2}, 0),
    ]
    # the 30-day window reaches the old refund; empty days are there with zeros
    wide = dataset.topic_trend(30, top=1)
    assert wide.topics == ["refund"] and len(wide.days) == 30
    assert {d.day: d.counts["refund"] for d in wide.days if d.counts["refund"]} == {
        date(2026, 2, 20): 1,
        date(2026, 3, 8): 2,
        date(2026, 3, 9): 2,
    }
    assert sum(d.other for d in wide.days) == 4 + 3 + 1 + 1


def test_sentiment_by_topic(dataset):
    found = {t.intent: (t.total, t.counts, t.mean_score) for t in dataset.sentiment_by_topic(3)}
    assert found == {
        "refund": (4, {"negative": 3, "positive": 1}, pytest.approx((-0.8 - 0.4 + 0.2) / 3)),
        "order_status": (3, {"neutral": 3}, None),
        "greet": (1, {"positive": 1}, pytest.approx(0.9)),
        "out_of_scope": (1, {"neutral": 1}, None),
        "faq": (1, {"negative": 1}, None),
    }
    ordered = [t.intent for t in dataset.sentiment_by_topic(3, limit=3)]
    assert ordered == ["refund", "order_status", "faq"]
    assert dataset.sentiment_by_topic(30)[0].counts == {"negative": 4, "positive": 1}


def test_empty_windows(timed_repo):
    trend = timed_repo.topic_trend(2)
    assert trend.topics == [] and [(d.counts, d.other) for d in trend.days] == [({}, 0), ({}, 0)]
    assert timed_repo.sentiment_by_topic(2) == []
    assert timed_repo.unanswered_turns(2) == [] and timed_repo.count_unanswered(2) == 0
    with pytest.raises(InvalidValueError):
        timed_repo.topic_trend(2, top=0)


@pytest.fixture()
def unanswered(timed_repo, clock):
    """Customer turns queued for review for every reason and status, on 03-01 and 03-10."""
    repo = timed_repo
    clock.now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    old = repo.get_or_create_conversation(None).session_id
    early = repo.add_turn(old, "customer", "gift card?", intent="out_of_scope", review="oos")
    clock.now = datetime(2026, 3, 10, 9, tzinfo=UTC)
    sid = repo.get_or_create_conversation(None).session_id
    turns = {
        "fallback": repo.add_turn(sid, "customer", "buy a gift card", intent="faq", review="fallback"),
        "oos": repo.add_turn(sid, "customer", "gift cards for sale", intent="out_of_scope", review="oos"),
        "low": repo.add_turn(sid, "customer", "where is it", intent="order_status", review="low_confidence"),
        "none": repo.add_turn(sid, "customer", "hello", intent="greet"),
    }
    clock.advance(minutes=1)
    turns["dismissed"] = repo.add_turn(sid, "customer", "asdf", review="fallback")
    repo.dismiss_review(repo.review_queue()[-1].id)
    # a second review of the same turn must not list the turn twice
    repo.add_review(turns["oos"].id, "fallback")
    clock.now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    return repo, early, turns


def test_unanswered_turns_are_the_pending_fallback_and_oos_ones(unanswered):
    repo, early, turns = unanswered
    listed = repo.unanswered_turns(1)
    assert [t.turn_id for t in listed] == [turns["oos"].id, turns["fallback"].id]  # newest first
    assert (listed[1].text, listed[1].intent, listed[1].session_id) == (
        "buy a gift card",
        "faq",
        turns["fallback"].session_id,
    )
    assert repo.count_unanswered(1) == 2
    assert [t.turn_id for t in repo.unanswered_turns(10)] == [turns["oos"].id, turns["fallback"].id, early.id]
    assert repo.count_unanswered(10) == 3
    assert [t.turn_id for t in repo.unanswered_turns(10, limit=1)] == [turns["oos"].id]


def test_label_turns_labels_their_pending_reviews_at_once(unanswered):
    repo, early, turns = unanswered
    reviewer = repo.create_user("rita", "pw", "agent").id
    wanted = [turns["fallback"].id, turns["oos"].id, turns["low"].id, turns["dismissed"].id, turns["none"].id]
    labelled = repo.label_turns([*wanted, 99999], " gift_card ", reviewer)
    assert labelled == sorted([turns["fallback"].id, turns["oos"].id, turns["low"].id])
    assert sorted((r.turn_id, r.corrected_intent, r.reviewer_id) for r in repo.review_queue("labelled")) == [
        (turns["fallback"].id, "gift_card", reviewer),
        (turns["oos"].id, "gift_card", reviewer),  # both of its reviews
        (turns["oos"].id, "gift_card", reviewer),
        (turns["low"].id, "gift_card", reviewer),
    ]
    assert [t.turn_id for t in repo.unanswered_turns(10)] == [early.id]
    assert [r.turn_id for r in repo.review_queue("dismissed")] == [turns["dismissed"].id]
    assert repo.label_turns([turns["fallback"].id], "other", None) == []  # already labelled: left alone

    with pytest.raises(InvalidValueError):
        repo.label_turns([early.id], "  ", None)
    with pytest.raises(InvalidValueError):
        repo.label_turns([], "gift_card", None)
    with pytest.raises(NotFoundError):
        repo.label_turns([early.id], "gift_card", 4242)
    assert repo.count_unanswered(30) == 1  # the failed calls changed nothing


def test_windows_follow_the_utc_day(unanswered, clock):
    repo = unanswered[0]
    clock.now = datetime(2026, 3, 11, 0, 30, tzinfo=UTC) - timedelta(hours=1)  # 23:30 on the 10th
    assert repo.count_unanswered(1) == 2
    clock.now = datetime(2026, 3, 11, 0, 30, tzinfo=UTC)
    assert repo.count_unanswered(1) == 0
