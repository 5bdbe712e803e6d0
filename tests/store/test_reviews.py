"""The review queue and customer feedback."""

import pytest

from kefu.store import InvalidValueError, NotFoundError


def test_review_labelling(repo):
    reviewer = repo.create_user("rita", "pw", "admin").id
    sid = repo.get_or_create_conversation(None).session_id
    doubtful = repo.add_turn(
        sid, "customer", "can u send it back", intent="refund", confidence=0.41, review="low_confidence"
    )
    repo.add_turn(sid, "bot", "Sorry, I did not get that.", decision="fallback")
    unclear = repo.add_turn(sid, "customer", "asdfgh", intent="greet", confidence=0.2)
    repo.add_review(unclear.id, "fallback")

    queue = repo.review_queue()
    assert [r.turn_id for r in queue] == [doubtful.id, unclear.id]
    first = queue[0]
    assert (first.text, first.predicted_intent, first.confidence, first.reason, first.session_id) == (
        "can u send it back",
        "refund",
        0.41,
        "low_confidence",
        sid,
    )

    labelled = repo.label_review(first.id, "return_item", reviewer)
    assert (labelled.status, labelled.corrected_intent, labelled.reviewer_id) == (
        "labelled",
        "return_item",
        reviewer,
    )
    assert labelled.reviewed_at is not None
    dismissed = repo.dismiss_review(queue[1].id, reviewer)
    assert dismissed.status == "dismissed" and dismissed.corrected_intent is None

    assert repo.review_queue() == []
    assert [(r.text, r.corrected_intent) for r in repo.review_queue("labelled")] == [
        ("can u send it back", "return_item")
    ]
    assert [r.id for r in repo.review_queue("dismissed")] == [queue[1].id]
    # The turn itself keeps what the model predicted; the correction lives on the review.
    assert repo.turn(doubtful.id).intent == "refund"


def test_review_errors(repo):
    sid = repo.get_or_create_conversation(None).session_id
    turn = repo.add_turn(sid, "customer", "hm")
    with pytest.raises(InvalidValueError):
        repo.add_review(turn.id, "boredom")
    with pytest.raises(NotFoundError):
        repo.add_review(999, "oos")
    with pytest.raises(NotFoundError):
        repo.label_review(999, "greet", None)
    review = repo.add_review(turn.id, "oos")
    with pytest.raises(InvalidValueError):
        repo.label_review(review.id, "  ", None)
    with pytest.raises(InvalidValueError):
        repo.review_queue("done")


def test_feedback(repo):
    sid = repo.get_or_create_conversation(None).session_id
    answer = repo.add_turn(sid, "bot", "Your refund is on its way.")
    good = repo.add_feedback(answer.id, 1)
    bad = repo.add_feedback(answer.id, -1, "it was not")
    assert (good.rating, good.comment, bad.rating, bad.comment) == (1, None, -1, "it was not")
    with pytest.raises(InvalidValueError, match="rating"):
        repo.add_feedback(answer.id, 5)
    with pytest.raises(NotFoundError):
        repo.add_feedback(999, 1)
