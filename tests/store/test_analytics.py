"""Analytics on a tiny hand-made dataset with known answers."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest


@pytest.fixture()
def dataset(timed_repo, clock):
    """Four conversations in the last week (one never spoke), one three weeks earlier. Today is 2026-03-10."""
    repo = timed_repo

    def at(moment: datetime) -> None:
        clock.now = moment

    at(datetime(2026, 2, 17, 9, tzinfo=UTC))  # outside a 7-day window, inside 30 days
    old = repo.get_or_create_conversation(None).session_id
    repo.add_turn(old, "customer", "hello", intent="greet")
    repo.add_turn(old, "bot", "??", decision="fallback")
    repo.open_handoff(old, "fallbacks")

    at(datetime(2026, 3, 8, 10, tzinfo=UTC))
    a = repo.get_or_create_conversation(None).session_id
    repo.add_turn(a, "customer", "hi", intent="greet", sentiment="positive", sentiment_score=0.8)
    repo.add_turn(a, "bot", "Hello!", decision="reply")
    repo.add_turn(a, "customer", "refund now", intent="refund", sentiment="negative", sentiment_score=-0.6)
    repo.add_turn(a, "bot", "Sorry?", decision="fallback")

    at(datetime(2026, 3, 9, 8, tzinfo=UTC))
    b = repo.get_or_create_conversation(None).session_id
    repo.add_turn(b, "customer", "refund please", intent="refund", sentiment="negative", sentiment_score=-0.4)
    repo.add_turn(b, "bot", "Connecting you.", decision="handoff")
    repo.open_handoff(b, "requested")
    repo.get_or_create_conversation(None)  # opened the widget, never wrote
    # 01:30 in Beijing on the 10th is 17:30 UTC on the 9th: days are UTC days.
    at(datetime(2026, 3, 10, 1, 30, tzinfo=timezone(timedelta(hours=8))))
    repo.add_turn(b, "customer", "thanks")

    at(datetime(2026, 3, 10, 11, tzinfo=UTC))
    d = repo.get_or_create_conversation(None).session_id
    repo.add_turn(d, "customer", "where is my order", intent="order_status", sentiment="neutral")
    repo.add_turn(d, "bot", "On its way.", decision="kb")

    at(datetime(2026, 3, 10, 12, tzinfo=UTC))
    return repo


def test_turns_per_day(dataset):
    days = dataset.turns_per_day(7)
    assert [d.day for d in days] == [date(2026, 3, 4) + timedelta(days=i) for i in range(7)]
    by_day = {d.day.day: (d.customer, d.bot, d.agent) for d in days}
    assert by_day == {
        4: (0, 0, 0),
        5: (0, 0, 0),
        6: (0, 0, 0),
        7: (0, 0, 0),
        8: (2, 2, 0),
        9: (2, 1, 0),
        10: (1, 1, 0),
    }
    assert sum(d.total for d in dataset.turns_per_day(30)) == 11


def test_intent_distribution(dataset):
    result = [(i.intent, i.count, i.share) for i in dataset.intent_distribution(7)]
    assert result == [("refund", 2, 0.5), ("greet", 1, 0.25), ("order_status", 1, 0.25)]
    assert [(i.intent, i.count) for i in dataset.intent_distribution(30, limit=1)] == [("greet", 2)]


def test_fallback_and_handoff_rates(dataset):
    assert dataset.fallback_rate(7) == pytest.approx(1 / 4)  # reply, fallback, handoff, kb
    assert dataset.fallback_rate(30) == pytest.approx(2 / 5)
    assert dataset.handoff_rate(7) == pytest.approx(1 / 3)  # the silent conversation does not count
    assert dataset.handoff_rate(30) == pytest.approx(2 / 4)


def test_sentiment_trend(dataset):
    trend = {d.day.day: (d.counts, d.mean_score) for d in dataset.sentiment_trend(3)}
    assert trend[8][0] == {"positive": 1, "negative": 1} and trend[8][1] == pytest.approx(0.1)
    assert trend[9] == ({"negative": 1}, pytest.approx(-0.4))
    assert trend[10] == ({"neutral": 1}, None)


def test_empty_database_gives_zeros(timed_repo):
    assert all(d.total == 0 for d in timed_repo.turns_per_day(3))
    assert timed_repo.intent_distribution(3) == []
    assert timed_repo.fallback_rate(3) == 0.0 and timed_repo.handoff_rate(3) == 0.0
