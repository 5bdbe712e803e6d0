import pytest

from kefu.entities import Entity, entity_scores


def E(entity_type, start, end, value="v", source="model"):
    return Entity(entity_type, value, start, end, source)


# gold, pred, expected micro (precision, recall, f1, support), expected per type {type: (p, r, f1, support)}
CASES = [
    pytest.param([[E("city", 0, 3)]], [[E("city", 0, 3, "other value", "rule:x")]],
                 (1.0, 1.0, 1.0, 1), {"city": (1.0, 1.0, 1.0, 1)}, id="value and source are ignored"),
    pytest.param([[E("city", 0, 3)]], [[E("city", 0, 4)]],
                 (0.0, 0.0, 0.0, 1), {"city": (0.0, 0.0, 0.0, 1)}, id="off by one is a miss and a false alarm"),
    pytest.param([[E("city", 0, 3)]], [[E("date", 0, 3)]],
                 (0.0, 0.0, 0.0, 1), {"city": (0.0, 0.0, 0.0, 1), "date": (0.0, 0.0, 0.0, 0)}, id="wrong type"),
    # 2 sentences: gold city,date,city / pred city (right), date (right), money (wrong), nothing for 2nd city
    # tp=2 fp=1 fn=1 -> p=2/3 r=2/3 f1=2/3; city p=1 r=1/2 f1=2/3; date 1/1/1; money 0/0/0 support 0
    pytest.param([[E("city", 0, 2), E("date", 5, 7)], [E("city", 1, 4)]],
                 [[E("date", 5, 7), E("city", 0, 2)], [E("money", 6, 8)]],
                 (2 / 3, 2 / 3, 2 / 3, 3),
                 {"city": (1.0, 0.5, 2 / 3, 2), "date": (1.0, 1.0, 1.0, 1), "money": (0.0, 0.0, 0.0, 0)},
                 id="mixed"),
    # the same span predicted twice can match the single gold entity once: tp=1 fp=1 -> p=0.5 r=1 f1=2/3
    pytest.param([[E("x", 0, 1)]], [[E("x", 0, 1), E("x", 0, 1)]],
                 (0.5, 1.0, 2 / 3, 1), {"x": (0.5, 1.0, 2 / 3, 1)}, id="duplicate prediction"),
    pytest.param([[], []], [[], []], (0.0, 0.0, 0.0, 0), {}, id="nothing at all"),
    pytest.param([[E("x", 0, 1)], []], [[], []], (0.0, 0.0, 0.0, 1), {"x": (0.0, 0.0, 0.0, 1)}, id="no predictions"),
]


@pytest.mark.parametrize("gold, pred, micro, per_type", CASES)
def test_entity_scores(gold, pred, micro, per_type):
    scores = entity_scores(gold, pred)
    assert (scores["precision"], scores["recall"], scores["f1"], scores["support"]) == pytest.approx(micro)
    assert set(scores["per_type"]) == set(per_type)
    for entity_type, (p, r, f1, support) in per_type.items():
        got = scores["per_type"][entity_type]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p, r, f1))
        assert got["support"] == support


def test_sentence_counts_must_match():
    with pytest.raises(ValueError, match="gold has 2 sentences but pred has 1"):
        entity_scores([[], []], [[]])


def test_same_span_in_another_sentence_does_not_match():
    assert entity_scores([[E("x", 0, 1)], []], [[], [E("x", 0, 1)]])["f1"] == 0.0
