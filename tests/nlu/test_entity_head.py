"""The entity-tagging head: trained from inline annotations, predicted in the same pass as the intent."""

import pytest

from kefu.data import Example
from kefu.entities import Entity, parse_inline
from kefu.nlu.evaluate import evaluate_model
from kefu.nlu.model import Model
from kefu.training import fit

ANNOTATED = [
    ("track", "where is order [A12345](order_id)"),
    ("track", "track [B99881](order_id) please"),
    ("track", "order [C55123](order_id) has not arrived"),
    ("track", "查一下订单[D77120](order_id)"),
    ("track", "我的订单[E31337](order_id)到哪了"),
    ("track", "[F42424](order_id)什么时候到"),
    ("ship", "ship to [beijing](city)"),
    ("ship", "can you deliver to [shanghai](city)"),
    ("ship", "送到[上海](city)要几天"),
    ("ship", "[北京](city)能送吗"),
    ("greet", "hello"),
    ("greet", "你好"),
]


@pytest.fixture(scope="module")
def tagged_model(tiny_config):
    examples = []
    for label, raw in ANNOTATED * 2:
        text, ents = parse_inline(raw)
        examples.append(Example(text, label, entities=tuple(ents)))
    return fit(examples, tiny_config, progress=False)


def test_entity_head_learns_annotated_spans_and_reports_them_with_the_intent(tagged_model):
    assert tagged_model.network.cfg.tags == ["O", "B-city", "I-city", "B-order_id", "I-order_id"]
    p = tagged_model.predict("where is order A12345")[0]
    assert p.intent == "track"
    assert Entity("order_id", "A12345", 15, 21, "model") in p.entities
    zh = tagged_model.predict("送到上海要几天")[0]
    assert zh.intent == "ship"
    assert [(e.type, e.value, e.source) for e in zh.entities] == [("city", "上海", "model")]


def test_rule_entities_join_model_entities_without_overlap(tagged_model):
    text = "where is order A12345, mail me at amy@example.com"
    p = tagged_model.predict(text)[0]
    learned = [e for e in p.entities if e.source == "model"]
    assert Entity("order_id", "A12345", 15, 21, "model") in learned
    rule_found = tagged_model.rules.extract(text)
    assert any(e.type == "email" for e in rule_found)
    for e in rule_found:  # a rule match is kept exactly when no learned span overlaps it
        overlaps = any(e.start < m.end and m.start < e.end for m in learned)
        assert (e in p.entities) != overlaps


def test_entity_scores_in_evaluation_and_round_trip(tagged_model, tmp_path):
    text, ents = parse_inline("track [B99881](order_id) please")
    gold = [Example(text, "track", entities=tuple(ents))]
    report = evaluate_model(tagged_model, gold).to_dict()
    assert report["entities"]["f1"] == 1.0
    loaded = Model.load(tagged_model.save(tmp_path / "m"))
    texts = ["查一下订单D77120", "ship to beijing"]
    assert [p.to_dict() for p in loaded.predict(texts)] == [p.to_dict() for p in tagged_model.predict(texts)]


def test_an_exact_rule_match_replaces_a_shorter_learned_span_of_its_type():
    from kefu.nlu.model import _merge

    learned = [Entity("order_id", "12345", 7, 12, "model"), Entity("city", "上海", 0, 2, "model")]
    rules = [Entity("order_id", "A12345", 6, 12, "rule:order_id"), Entity("phone", "2", 1, 2, "rule:phone")]
    assert _merge(learned, rules) == [Entity("city", "上海", 0, 2, "model"), rules[0]]


def test_a_type_with_a_configured_pattern_comes_from_the_pattern_alone(tagged_model, tmp_path):
    # a copy, so the module's model keeps its rules for the other tests
    model = Model.load(tagged_model.save(tmp_path / "m"))
    texts = ["where is order so", "order its there", "where is order A12345", "送到上海要几天"]
    assert any(e.type == "order_id" for p in model.predict(texts[:2]) for e in p.entities)  # the head guesses
    model.set_rules({"regexes": {"order_id": r"[A-Z]\d{5,8}"}})
    found = [[(e.type, e.value, e.source) for e in p.entities] for p in model.predict(texts)]
    assert found[0] == found[1] == []
    assert ("order_id", "A12345", "rule:order_id") in found[2]
    assert found[3] == [("city", "上海", "model")]  # other types still come from the head
