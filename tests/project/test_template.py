"""The demo bot that `kefu init` writes: enough, balanced, bilingual data and a domain that works."""

import csv
import re
from collections import Counter, defaultdict

from kefu.data import load_dataset
from kefu.dialogue import ConversationState, NluResult, decide, detect_language, load_domain
from kefu.knowledge import load_folder
from kefu.project.settings import load_settings

from .conftest import TEMPLATE

NLU = TEMPLATE / "data" / "nlu.yml"
FAQ = TEMPLATE / "knowledge" / "faq.csv"


def intents_and_examples():
    examples, warnings = load_dataset(NLU, strict=True)
    assert warnings == []
    return examples


def test_every_intent_has_ten_examples_in_each_language():
    counts: dict[str, Counter] = defaultdict(Counter)
    for example in intents_and_examples():
        counts[example.label][detect_language(example.text)] += 1
    assert len(counts) >= 15
    thin = {intent: dict(by_language) for intent, by_language in counts.items()
            if by_language["zh"] < 10 or by_language["en"] < 10}
    assert thin == {}


def test_order_ids_are_annotated_and_match_the_settings_pattern():
    examples = intents_and_examples()
    annotated = [e for e in examples if e.entities]
    assert len(annotated) >= 15
    assert {entity.type for e in annotated for entity in e.entities} == {"order_id"}
    assert {"order_status", "cancel_order"} <= {e.label for e in annotated}
    [pattern] = load_settings(TEMPLATE).entities.regexes["order_id"]
    for example in annotated:
        for entity in example.entities:
            assert re.fullmatch(pattern, entity.value), (example.line, entity.value)


def test_domain_answers_every_intent():
    intents = sorted({e.label for e in intents_and_examples()})
    domain = load_domain(TEMPLATE / "domain.yml", intents, ["order_id"])
    assert domain.warnings == ()
    assert sorted(domain.intents) == intents
    for name, spec in domain.intents.items():
        assert spec.replies or spec.handoff, name
        assert set(domain.intent_labels[name]) == {"zh", "en"}
    assert domain.intents["human_agent"].handoff
    assert domain.intents["order_status"].form and domain.intents["cancel_order"].form
    for form in domain.forms.values():
        assert form.required == ("order_id",)


def test_faq_has_thirty_rows_in_both_languages():
    with FAQ.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0])[:2] == ["question", "answer"]
    assert len(rows) >= 30
    languages = Counter(detect_language(row["question"]) for row in rows)
    assert languages["zh"] >= 10 and languages["en"] >= 10
    assert all(row["lang"] == detect_language(row["question"]) for row in rows)


def test_faq_questions_are_not_training_examples():
    # the knowledge base is for what the intents do not cover
    training = {e.text.strip().lower() for e in intents_and_examples()}
    with FAQ.open(encoding="utf-8", newline="") as file:
        questions = {row["question"].strip().lower() for row in csv.DictReader(file)}
    assert questions & training == set()


def test_knowledge_folder_loads():
    passages = load_folder(TEMPLATE / "knowledge")
    documents = [p for p in passages if ".md" in p.source]
    assert len(passages) >= 40
    assert len({p.title for p in documents}) >= 10  # one passage per heading at least


def test_a_conversation_with_the_demo_domain():
    domain = load_domain(TEMPLATE / "domain.yml")
    state = ConversationState()
    decision, state = decide(NluResult("我的订单到哪了", "order_status", 0.93), state, domain)
    assert (decision.kind, decision.language) == ("form", "zh")
    assert "订单号" in decision.text
    entity = {"type": "order_id", "value": "A12345", "start": 0, "end": 6}
    decision, state = decide(NluResult("A12345", None, 0.0, entities=[entity]), state, domain)
    assert decision.kind == "reply"
    assert "A12345" in decision.text and "物流" in decision.text
    decision, state = decide(NluResult("this is terrible", "complaint", 0.9), state, domain)
    assert decision.handoff and decision.language == "en"
    assert "sorry" in decision.text.lower()
