import dataclasses
import json
import random

import pytest

from kefu.dialogue import ConversationState, KbHit, NluResult, decide, parse_domain
from kefu.dialogue.policy import negative_score

ASK_ID = {
    "zh": "请提供您的订单号（例如 A12345）。",
    "en": "Could you give me your order number (e.g. A12345)?",
}
ASK_REASON = {"zh": "请简单描述退款原因。", "en": "Why would you like a refund?"}
FALLBACK = {"zh": "抱歉，我没有理解您的意思。", "en": "Sorry, I didn't understand that."}
HANDOFF = {"zh": "正在为您转接人工客服，请稍候。", "en": "I'm connecting you to a colleague; please hold on."}
GREET = {"zh": "您好！有什么可以帮您？", "en": "Hi! How can I help?"}
ORDER_REPLY = {
    "zh": "您的订单 A12345 正在配送中，预计 1-3 天送达。",
    "en": "Your order A12345 is on its way; it should arrive in 1-3 days.",
}
KB = KbHit("退货须在 7 天内申请。/ Returns within 7 days.", "faq/returns.md", 0.8)
WEAK_KB = KbHit("Maybe this?", "faq/other.md", 0.5)
NEGATIVE = {"label": "negative", "score": 0.93}


def nlu(text, intent=None, confidence=0.95, ranking=(), oos=False, entities=(), sentiment=None) -> NluResult:
    return NluResult(text, intent, confidence, list(ranking), oos, list(entities), sentiment)


def order_id(text: str, value: str = "A12345") -> dict:
    start = text.index(value)
    return {"type": "order_id", "value": value, "start": start, "end": start + len(value)}


def with_policy(domain, **settings):
    return dataclasses.replace(domain, policy=dataclasses.replace(domain.policy, **settings))


def talk(domain, turns, state=None, kb_hit=None):
    """Run several turns; return the decisions and the final state (stored as JSON between turns)."""
    state = state or ConversationState()
    decisions = []
    for message in turns:
        decision, state = decide(message, state, domain, kb_hit)
        state = ConversationState.from_dict(json.loads(json.dumps(state.to_dict())))
        decisions.append(decision)
    return decisions, state


ZH_ORDER, EN_ORDER = "我的订单A12345到哪了", "where is my order A12345"
# one row per rule and language: (message, knowledge-base hit, kind, text, intent)
RULES = {
    "reply zh": (nlu("你好", "greet"), None, "reply", GREET["zh"], "greet"),
    "reply en": (nlu("hello", "greet"), None, "reply", GREET["en"], "greet"),
    "reply with entity zh": (
        nlu(ZH_ORDER, "order_status", entities=[order_id(ZH_ORDER)]), None, "reply", ORDER_REPLY["zh"],
        "order_status",
    ),
    "reply with entity en": (
        nlu(EN_ORDER, "order_status", entities=[order_id(EN_ORDER)]), None, "reply", ORDER_REPLY["en"],
        "order_status",
    ),
    "start form zh": (nlu("我的订单到哪了", "order_status"), None, "form", ASK_ID["zh"], "order_status"),
    "start form en": (nlu("where is my order", "order_status"), None, "form", ASK_ID["en"], "order_status"),
    "handoff intent zh": (nlu("转人工", "human_agent"), None, "handoff", HANDOFF["zh"], "human_agent"),
    "handoff intent en": (
        nlu("let me talk to a person", "human_agent"), None, "handoff", HANDOFF["en"], "human_agent",
    ),
    "unsure handoff intent zh": (nlu("人工", "human_agent", 0.3), None, "fallback", FALLBACK["zh"], None),
    "unsure handoff intent en": (nlu("human?", "human_agent", 0.3), None, "fallback", FALLBACK["en"], None),
    "negative sentiment zh": (
        nlu("你们太差劲了，我要退款", "refund", 0.8, sentiment=NEGATIVE), None, "handoff", HANDOFF["zh"],
        None,
    ),
    "negative sentiment en": (
        nlu("this is useless, refund me", "refund", 0.8, sentiment=NEGATIVE), None, "handoff", HANDOFF["en"],
        None,
    ),
    "negative sentiment as probabilities en": (
        nlu("awful service", "greet", 0.8, sentiment={"negative": 0.9, "positive": 0.1}), None, "handoff",
        HANDOFF["en"], None,
    ),
    "mildly negative zh": (
        nlu("有点慢，你好", "greet", sentiment={"label": "negative", "score": 0.6}),
        None, "reply", GREET["zh"], "greet",
    ),
    "out of scope with kb zh": (nlu("退货政策是什么", "greet", oos=True), KB, "kb", KB.answer, None),
    "out of scope with kb en": (
        nlu("what is your return policy", "greet", oos=True), KB, "kb", KB.answer, None,
    ),
    "out of scope fallback zh": (
        nlu("今天天气怎么样", "greet", oos=True), None, "fallback", FALLBACK["zh"], None,
    ),
    "out of scope fallback en": (
        nlu("what's the weather", "greet", oos=True), None, "fallback", FALLBACK["en"], None,
    ),
    "low confidence with kb zh": (nlu("退货政策", "refund", 0.4), KB, "kb", KB.answer, None),
    "low confidence weak kb en": (nlu("blah blah", "refund", 0.4), WEAK_KB, "fallback", FALLBACK["en"], None),
    "no intent en": (nlu("blah", None, 0.0), None, "fallback", FALLBACK["en"], None),
    "kb intent zh": (nlu("多久能送到", "faq_shipping"), KB, "kb", KB.answer, "faq_shipping"),
    "kb intent en": (nlu("how long does shipping take", "faq_shipping"), KB, "kb", KB.answer, "faq_shipping"),
    "kb intent without kb zh": (nlu("多久能送到", "faq_shipping"), None, "fallback", FALLBACK["zh"], None),
    "kb intent weak kb en": (
        nlu("shipping time?", "faq_shipping"), WEAK_KB, "fallback", FALLBACK["en"], None,
    ),
    "intent not in domain en": (nlu("bye", "goodbye"), KB, "kb", KB.answer, "goodbye"),
}


@pytest.mark.parametrize("case", list(RULES), ids=list(RULES))
def test_single_turn_rules(case, domain):
    message, kb_hit, kind, text, intent = RULES[case]
    decision, state = decide(message, ConversationState(), domain, kb_hit)
    assert (decision.kind, decision.text, decision.intent) == (kind, text, intent), decision.reason
    assert decision.language == state.language == ("zh" if case.endswith("zh") else "en")
    assert decision.handoff == state.handed_off == (kind == "handoff")
    assert state.fallback_count == (1 if kind == "fallback" else 0)
    assert decision.sources == ([kb_hit.source] if kind == "kb" else [])
    assert decision.reason


CLARIFY = {
    "zh": ("退款还是查订单", "您是想问：申请退款还是查询订单？", ["申请退款", "查询订单"]),
    "en": ("refund or order status", "Did you mean: Refund or Order status?", ["Refund", "Order status"]),
}
AMBIGUOUS = [("refund", 0.46), ("order_status", 0.42), ("greet", 0.12)]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_clarify_buttons_then_click(language, domain):
    text, question, titles = CLARIFY[language]
    decision, state = decide(nlu(text, "refund", 0.46, AMBIGUOUS), ConversationState(), domain)
    assert (decision.kind, decision.text) == ("clarify", question)
    assert decision.buttons == [
        {"title": titles[0], "payload": "/intent:refund"},
        {"title": titles[1], "payload": "/intent:order_status"},
    ]
    assert state.pending_clarify == ["refund", "order_status"]
    # the payload has no language of its own and the NLU result for it is noise
    decision, state = decide(nlu("/intent:order_status", "greet", 0.2), state, domain)
    assert (decision.kind, decision.text, decision.intent) == ("form", ASK_ID[language], "order_status")
    assert state.pending_clarify == [] and state.language == language and state.active_form == "order_lookup"


@pytest.mark.parametrize(
    ("language", "typed"), [("zh", "查询订单"), ("en", "order status!"), ("en", "2"), ("zh", "2")]
)
def test_clarify_answered_by_typing_an_option(language, typed, domain):
    _, state = decide(nlu(CLARIFY[language][0], "refund", 0.46, AMBIGUOUS), ConversationState(), domain)
    decision, state = decide(nlu(typed, "greet", 0.3), state, domain)
    assert (decision.kind, decision.intent, decision.language) == ("form", "order_status", language)


def test_clarify_needs_plausible_close_intents(domain):
    far = [("refund", 0.6), ("order_status", 0.35)]
    assert decide(nlu("refund", "refund", 0.6, far), ConversationState(), domain)[0].kind == "form"
    weak = [("refund", 0.29), ("order_status", 0.28), ("greet", 0.27)]
    assert decide(nlu("hm", "refund", 0.29, weak), ConversationState(), domain)[0].kind == "fallback"
    oos = nlu("hm", "refund", 0.46, AMBIGUOUS, oos=True)
    assert decide(oos, ConversationState(), domain)[0].kind == "fallback"
    off = with_policy(domain, clarify_margin=None)
    assert decide(nlu("refund", "refund", 0.46, AMBIGUOUS), ConversationState(), off)[0].kind == "fallback"


def test_unknown_payload_is_ordinary_text(domain):
    decision, _ = decide(nlu("/intent:hack", "greet", 0.9), ConversationState(language="en"), domain)
    assert (decision.kind, decision.intent) == ("reply", "greet")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_form_over_several_turns(language, domain):
    ask_text = {"zh": "我的订单到哪了", "en": "where is my order"}[language]
    decisions, state = talk(domain, [
        nlu(ask_text, "order_status"),
        nlu("A12345", "greet", 0.4, entities=[order_id("A12345")]),  # a bare id is no language, no intent
    ])
    assert [d.kind for d in decisions] == ["form", "reply"]
    assert decisions[0].text == ASK_ID[language]
    assert decisions[1].text == ORDER_REPLY[language] and decisions[1].intent == "order_status"
    assert (state.active_form, state.requested_slot, state.form_intent) == (None, None, None)
    assert state.slots == {"order_id": "A12345"} and state.language == language


@pytest.mark.parametrize("language", ["zh", "en"])
def test_form_with_a_free_text_slot(language, domain):
    start, reason = {"zh": ("我要退款", "尺码不合适"), "en": ("I want a refund", "it does not fit")}[language]
    decisions, state = talk(domain, [
        nlu(start, "refund"),
        nlu("A12345", "order_status", 0.9, entities=[order_id("A12345")]),  # answers the question: stays
        nlu(reason, "greet", 0.6),  # free text, whatever the NLU thinks it is
    ])
    assert [d.text for d in decisions[:2]] == [ASK_ID[language], ASK_REASON[language]]
    assert decisions[2].kind == "reply"
    assert "A12345" in decisions[2].text and reason in decisions[2].text
    assert state.slots == {"order_id": "A12345", "reason": reason} and state.active_form is None


def test_form_slots_given_up_front_are_not_asked(domain):
    text = "refund order A12345 please"
    decision, state = decide(nlu(text, "refund", entities=[order_id(text)]), ConversationState(), domain)
    assert (decision.kind, decision.text, state.requested_slot) == ("form", ASK_REASON["en"], "reason")


def test_new_request_does_not_reuse_an_old_order_number(domain):
    state = ConversationState(language="en", slots={"order_id": "A12345"})
    decision, state = decide(nlu("where is my other order", "order_status"), state, domain)
    assert (decision.kind, decision.text) == ("form", ASK_ID["en"])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_leaving_a_form_with_a_confident_other_intent(language, domain):
    ask_text, hello = {"zh": ("我的订单到哪了", "你好"), "en": ("where is my order", "hello")}[language]
    decisions, state = talk(domain, [nlu(ask_text, "order_status"), nlu(hello, "greet", 0.9)])
    assert (decisions[1].kind, decisions[1].text) == ("reply", GREET[language])
    assert "left form order_lookup" in decisions[1].reason
    assert state.active_form is None and state.requested_slot is None


def test_a_less_confident_other_intent_does_not_leave_the_form(domain):
    decisions, state = talk(domain, [nlu("where is my order", "order_status"), nlu("hi", "greet", 0.65)])
    assert (decisions[1].kind, decisions[1].text) == ("form", ASK_ID["en"])
    assert state.active_form == "order_lookup" and state.fallback_count == 1


def test_handoff_intent_inside_a_form(domain):
    decisions, state = talk(domain, [nlu("我要退款", "refund"), nlu("转人工", "human_agent")])
    assert decisions[1].kind == "handoff" and state.active_form is None and state.handed_off


@pytest.mark.parametrize("language", ["zh", "en"])
def test_fallbacks_then_handoff(language, domain):
    text = {"zh": "嗯嗯嗯", "en": "hmm hmm"}[language]
    decisions, state = talk(domain, [nlu(text, "greet", 0.2)] * 3)
    assert [d.kind for d in decisions] == ["fallback", "fallback", "handoff"]
    assert decisions[2].text == HANDOFF[language] and decisions[2].handoff
    assert "3 turns in a row" in decisions[2].reason
    assert state.handed_off and state.fallback_count == 0
    # from now on a person answers: the bot stays silent whatever is said
    decision, after = decide(nlu("你好", "greet"), state, domain)
    assert (decision.kind, decision.text, decision.handoff) == ("handoff", "", True)
    assert after == state


def test_an_answer_resets_the_fallback_count(domain):
    unclear = nlu("hmm hmm", "greet", 0.2)
    decisions, state = talk(domain, [unclear, unclear, nlu("hello", "greet"), unclear, unclear])
    assert [d.kind for d in decisions] == ["fallback", "fallback", "reply", "fallback", "fallback"]
    assert state.fallback_count == 2 and not state.handed_off


def test_a_stuck_form_question_hands_off(domain):
    unclear = nlu("what?", "greet", 0.3)
    decisions, state = talk(domain, [nlu("where is my order", "order_status"), unclear, unclear, unclear])
    assert [d.kind for d in decisions] == ["form", "form", "form", "handoff"]
    assert "asking again" in decisions[1].reason and state.handed_off


def test_max_fallbacks_null_never_hands_off(domain):
    patient = with_policy(domain, max_fallbacks=None)
    decisions, state = talk(patient, [nlu("hmm hmm", "greet", 0.2)] * 5)
    assert {d.kind for d in decisions} == {"fallback"} and state.fallback_count == 5


@pytest.mark.parametrize(("threshold", "kind"), [(0.85, "handoff"), (0.95, "reply"), (None, "reply")])
def test_sentiment_handoff_is_configurable(threshold, kind, domain):
    configured = with_policy(domain, handoff_on_negative=threshold)
    message = nlu("hello, you are terrible", "greet", sentiment=NEGATIVE)
    decision, _ = decide(message, ConversationState(), configured)
    assert decision.kind == kind


def test_language_follows_the_customer(domain):
    order = "A12345"
    decisions, state = talk(domain, [
        nlu("你好", "greet"),
        nlu("ok", "greet"),  # one Latin word keeps the conversation in Chinese
        nlu("hello there", "greet"),
        nlu("我的order到哪了", "order_status"),
        nlu(order, "greet", 0.3, entities=[order_id(order)]),
    ])
    assert [d.language for d in decisions] == ["zh", "zh", "en", "zh", "zh"]
    expected = [GREET["zh"], GREET["zh"], GREET["en"], ASK_ID["zh"], ORDER_REPLY["zh"]]
    assert [d.text for d in decisions] == expected
    assert state.language == "zh"


def test_language_outside_the_domain_falls_back_to_the_first():
    text = """
languages: [zh]
intents:
  greet: {replies: {zh: [您好]}}
fallback: {zh: [抱歉]}
clarify: {zh: ["{options}？"]}
handoff_reply: {zh: [转接中]}
"""
    decision, state = decide(nlu("hello", "greet"), ConversationState(), parse_domain(text))
    assert (decision.text, decision.language, state.language) == ("您好", "zh", "zh")


def test_decide_does_not_change_the_given_state(domain):
    state = ConversationState(language="en", pending_clarify=["refund", "order_status"])
    before = state.to_dict()
    decide(nlu("/intent:refund", "greet", 0.1), state, domain)
    assert state.to_dict() == before


def test_rng_picks_reply_variants(domain):
    hi = nlu("hi", "greet")
    texts = {decide(hi, ConversationState(), domain, rng=random.Random(seed))[0].text for seed in range(20)}
    assert texts == {"Hi! How can I help?", "Hello! What can I do for you?"}
    # without an rng the first variant is used, so results are reproducible
    assert decide(nlu("hi", "greet"), ConversationState(), domain)[0].text == "Hi! How can I help?"


def test_variants_with_unfilled_placeholders_are_avoided():
    text = """
languages: [en]
intents:
  greet: {replies: {en: ["Hi {name}!", "Hi!"]}}
slots:
  name: {entity: person}
fallback: {en: [Sorry]}
clarify: {en: ["{options}?"]}
handoff_reply: {en: [Connecting]}
"""
    domain = parse_domain(text)
    for seed in range(10):
        decision, _ = decide(nlu("hi", "greet"), ConversationState(), domain, rng=random.Random(seed))
        assert decision.text == "Hi!"
    entity = {"type": "person", "value": "Ann", "start": 3, "end": 6}
    decision, state = decide(nlu("hi Ann", "greet", entities=[entity]), ConversationState(), domain)
    assert decision.text == "Hi Ann!" and state.slots == {"name": "Ann"}


def test_state_from_an_older_domain_drops_the_unknown_form(domain):
    state = ConversationState(language="en", active_form="gone", form_intent="order_status")
    decision, state = decide(nlu("hello", "greet"), state, domain)
    assert decision.kind == "reply" and state.active_form is None


def test_nlu_ranking_accepts_prediction_dicts():
    ranking = [{"intent": "refund", "confidence": 0.2}, {"intent": "greet", "confidence": 0.7}]
    result = NluResult("hi", "greet", 0.7, ranking)
    assert result.ranking == [("greet", 0.7), ("refund", 0.2)]
    assert NluResult("hi", "greet", 0.7).ranking == [("greet", 0.7)]


def test_nlu_entities_accept_objects_with_to_dict(domain):
    @dataclasses.dataclass
    class Entity:
        type: str
        value: str
        start: int
        end: int

        def to_dict(self):
            return dataclasses.asdict(self)

    message = nlu("order A12345 status", "order_status", entities=[Entity("order_id", "A12345", 6, 12)])
    assert message.entities == [{"type": "order_id", "value": "A12345", "start": 6, "end": 12}]
    assert decide(message, ConversationState(), domain)[0].text == ORDER_REPLY["en"]


@pytest.mark.parametrize(
    ("sentiment", "score"),
    [
        (None, None),
        ({"label": "negative", "score": 0.9}, 0.9),
        ({"label": "NEGATIVE", "score": 0.7}, 0.7),
        ({"label": "positive", "score": 0.9}, 0.0),
        ({"negative": 0.4, "neutral": 0.6}, 0.4),
        ({"neutral": 1.0}, None),
    ],
)
def test_negative_score(sentiment, score):
    assert negative_score(sentiment) == score


def test_decision_to_dict_is_json_safe(domain):
    message = nlu("refund or order status", "refund", 0.46, AMBIGUOUS)
    decision, _ = decide(message, ConversationState(), domain)
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["kind"] == "clarify" and data["buttons"][0]["payload"] == "/intent:refund"
