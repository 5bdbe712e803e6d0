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
    # one negative message is no grievance (issue 17): it is answered; see test_sentiment_needs_a_grievance
    "one negative message zh": (
        nlu("你们太差劲了，我要退款", "refund", 0.8, sentiment=NEGATIVE), None, "form", ASK_ID["zh"], "refund",
    ),
    "one negative message en": (
        nlu("this is useless, refund me", "refund", 0.8, sentiment=NEGATIVE), None, "form", ASK_ID["en"],
        "refund",
    ),
    "one negative message as probabilities en": (
        nlu("awful service", "greet", 0.8, sentiment={"negative": 0.9, "positive": 0.1}), None, "reply",
        GREET["en"], "greet",
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
    # an off-topic message (oos) never counts towards the handoff after repeated fallbacks (issue 17)
    assert state.fallback_count == (1 if kind == "fallback" and not message.oos else 0)
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
    click = dataclasses.replace(nlu("/intent:order_status", "greet", 0.2), clicked="order_status")
    decision, state = decide(click, state, domain)
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
    for message in [nlu("/intent:hack", "greet", 0.9), dataclasses.replace(nlu("x", "greet", 0.9), clicked="hack")]:
        decision, _ = decide(message, ConversationState(language="en"), domain)
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
    assert decisions[2].trigger == "fallbacks" and state.handoff_trigger == "fallbacks"
    # waiting for a person, the bot stays silent at what it still does not understand (issue 17: and
    # answers what it does, see test_handed_off_for_fallbacks_an_understood_question_is_answered)
    decision, after = decide(nlu(text, "greet", 0.2), state, domain)
    assert (decision.kind, decision.text, decision.handoff) == ("handoff", "", True)
    assert after == state


@pytest.mark.parametrize(
    "asides",
    [["给我讲个笑话", "再来一个", "你会唱歌吗", "今天天气咋样"], ["tell me a joke", "another one", "can you sing", "lol"]],
    ids=["zh", "en"],
)
def test_off_topic_asides_never_add_up_to_a_handoff(asides, domain):
    unclear = nlu("嗯嗯嗯" if asides[0] == "给我讲个笑话" else "hmm hmm", "greet", 0.2)
    decisions, state = talk(domain, [nlu(text, None, 0.9, oos=True) for text in asides])
    assert [d.kind for d in decisions] == ["fallback"] * 4 and not state.handed_off
    # ... nor do they wipe out the count of questions the bot did not understand
    decisions, state = talk(domain, [unclear, nlu(asides[0], None, 0.9, oos=True), unclear, unclear])
    assert [d.kind for d in decisions] == ["fallback", "fallback", "fallback", "handoff"]


@pytest.mark.parametrize(
    ("text", "confidence", "kind"),
    [
        ("我要人工", 0.86, "handoff"),
        ("give me a real person", 0.61, "handoff"),
        ("再来一个", 0.45, "fallback"),  # a weak handoff intent: neither a queue nor a reply saying "transferring"
        ("tell me another one", 0.35, "fallback"),
    ],
)
def test_a_handoff_intent_hands_off_only_at_the_handoff_threshold(text, confidence, kind, domain):
    decision, state = decide(nlu(text, "human_agent", confidence), ConversationState(), domain)
    language = "zh" if text[0] > "~" else "en"
    assert decision.kind == kind and state.handed_off == (kind == "handoff")
    assert decision.text == (HANDOFF if kind == "handoff" else FALLBACK)[language]


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
    configured = with_policy(domain, handoff_on_negative=threshold, negative_turns=1)
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
    decide(dataclasses.replace(nlu("/intent:refund", "greet", 0.1), clicked="refund"), state, domain)
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


# --- issue 17: conversations as real customers have them ------------------------------------------

NEVER_MIND = {"zh": "好的，那就先不办了。", "en": "OK, I've left it there."}
REFUND_STATUS = {"zh": "退款 3 个工作日内到账。", "en": "Refunds arrive within 3 business days."}
REFUND_STATUS_ID = {"zh": "订单 A12345 的退款 3 个工作日内到账。", "en": "The refund of order A12345 arrives in 3 days."}
ADDRESS = {"zh": "发货前可以自己改地址。", "en": "You can change the address until it ships."}
INVOICE_ID = {"zh": "订单 A12345 的发票已开具。", "en": "The invoice for order A12345 is issued."}
CONVERSATION_DOMAIN = f"""
languages: [zh, en]
intents:
  greet: {{replies: {{zh: ["{GREET['zh']}"], en: ["{GREET['en']}"]}}}}
  order_status:
    form: order_lookup
    replies: {{zh: ["{ORDER_REPLY['zh'].replace('A12345', '{order_id}')}"],
              en: ["{ORDER_REPLY['en'].replace('A12345', '{order_id}')}"]}}
  cancel_order:
    form: order_lookup
    replies: {{zh: ["已取消订单 {{order_id}}。"], en: ["Order {{order_id}} is cancelled."]}}
  refund_status:                   # answers without an order number, and better with one
    replies:
      zh: ["{REFUND_STATUS['zh']}", "{REFUND_STATUS_ID['zh'].replace('A12345', '{order_id}')}"]
      en: ["{REFUND_STATUS['en']}", "{REFUND_STATUS_ID['en'].replace('A12345', '{order_id}')}"]
  invoice:                         # every reply needs the order number, and no form of its own
    replies: {{zh: ["{INVOICE_ID['zh'].replace('A12345', '{order_id}')}"],
              en: ["{INVOICE_ID['en'].replace('A12345', '{order_id}')}"]}}
  change_address: {{replies: {{zh: ["{ADDRESS['zh']}"], en: ["{ADDRESS['en']}"]}}}}
  human_agent: {{handoff: true}}
  never_mind:
    cancel: true
    replies: {{zh: ["{NEVER_MIND['zh']}"], en: ["{NEVER_MIND['en']}"]}}
  faq:
slots:
  order_id: {{entity: order_id}}
forms:
  order_lookup:
    required: [order_id]
    ask: {{order_id: {{zh: ["{ASK_ID['zh']}"], en: ["{ASK_ID['en']}"]}}}}
fallback: {{zh: ["{FALLBACK['zh']}"], en: ["{FALLBACK['en']}"]}}
clarify: {{zh: ["您是想问：{{options}}？"], en: ["Did you mean: {{options}}?"]}}
handoff_reply: {{zh: ["{HANDOFF['zh']}"], en: ["{HANDOFF['en']}"]}}
policy:
  kb_threshold: 0.9
  kb_exact: 0.96
  kb_beats_reply: 0.04
  handoff_on_negative: 0.85
  negative_turns: 2
  handoff_timeout_s: 600
"""
FAQ = KbHit("We deliver to Singapore and Malaysia too.", "faq.csv:3", 0.97)
CLOSE_FAQ = KbHit("Gift wrapping is ¥10.", "faq.csv:4", 0.92)
UNRELATED = KbHit("How to write a review.", "faq.csv:16", 0.87)
CLOSER_FAQ = KbHit("A parcel already with the courier is redirected for ¥5.", "faq.csv:5", 0.92, {"change_address": 0.86})
TEXTS = {
    "greet": GREET, "never_mind": NEVER_MIND, "handoff": HANDOFF, "fallback": FALLBACK, "ask": ASK_ID,
    "order": ORDER_REPLY, "refund": REFUND_STATUS, "refund_id": REFUND_STATUS_ID, "address": ADDRESS,
    "invoice": INVOICE_ID, "faq": {"zh": FAQ.answer, "en": FAQ.answer},
    "close_faq": {"zh": CLOSE_FAQ.answer, "en": CLOSE_FAQ.answer},
    "closer_faq": {"zh": CLOSER_FAQ.answer, "en": CLOSER_FAQ.answer}, "silent": {"zh": "", "en": ""},
}
WORDS = {  # what the customer types, per language (the NLU result is given, so only the language matters)
    "hello": {"zh": "你好", "en": "hello"}, "never mind": {"zh": "算了 不用了", "en": "never mind"},
    "order": {"zh": "我的订单到哪了", "en": "where is my order"}, "id": {"zh": "A12345", "en": "A12345"},
    "refund": {"zh": "退款多久到账", "en": "when do i get my refund"}, "angry": {"zh": "太慢了！", "en": "so slow!"},
    "question": {"zh": "能寄到新加坡吗", "en": "do u ship internationally"}, "joke": {"zh": "讲个笑话", "en": "tell me a joke"},
    "invoice": {"zh": "我要开发票", "en": "i need an invoice"}, "cancel": {"zh": "帮我取消", "en": "cancel it"},
    "id in words": {"zh": "订单号是A12345", "en": "order is A12345"},
    "address": {"zh": "能改地址吗", "en": "can i change the address"},
    "what about": {"zh": "那寄新疆呢", "en": "what about to tibet?"},
}


@pytest.fixture(scope="module")
def conversation_domain():
    return parse_domain(CONVERSATION_DOMAIN)


def says(language, words, intent=None, confidence=0.9, **extra):
    text = WORDS[words][language]
    entities = [order_id(text)] if "A12345" in text else []
    return nlu(text, intent, confidence, entities=entities, **extra)


# Each conversation: (turns as (words, intent, confidence, extra NLU fields)), then per turn the expected
# (decision kind, text key) and the slots after the last turn; run in both languages.
CONVERSATIONS = {
    "one negative message is answered": (
        [("order", "order_status", 0.8, {"sentiment": NEGATIVE})], [("form", "ask")], {},
    ),
    "two negative messages in a row are a grievance": (
        [("order", "order_status", 0.8, {"sentiment": NEGATIVE}), ("angry", "greet", 0.3, {"sentiment": NEGATIVE})],
        [("form", "ask"), ("handoff", "handoff")], {},
    ),
    "a calm message in between resets the count": (
        [("angry", "greet", 0.3, {"sentiment": NEGATIVE}), ("hello", "greet", 0.9, {}),
         ("angry", "greet", 0.3, {"sentiment": NEGATIVE})],
        [("fallback", "fallback"), ("reply", "greet"), ("fallback", "fallback")], {},
    ),
    "a joke read as negative is no grievance, nor a never mind": (
        [("joke", None, 0.2, {"sentiment": NEGATIVE}), ("never mind", "never_mind", 0.9, {"sentiment": NEGATIVE}),
         ("joke", None, 0.2, {"sentiment": NEGATIVE})],
        [("fallback", "fallback"), ("cancel", "never_mind"), ("fallback", "fallback")], {},
    ),
    "never mind ends an open form": (
        [("order", "order_status", 0.9, {}), ("never mind", "never_mind", 0.8, {}), ("id", None, 0.2, {})],
        [("form", "ask"), ("cancel", "never_mind"), ("fallback", "fallback")], {"order_id": "A12345"},
    ),
    "never mind without a form is acknowledged": (
        [("never mind", "never_mind", 0.7, {})], [("cancel", "never_mind")], {},
    ),
    "an unsure never mind does not end the form": (
        [("order", "order_status", 0.9, {}), ("never mind", "never_mind", 0.3, {})],
        [("form", "ask"), ("form", "ask")], {},
    ),
    "the form remembers its intent": (
        [("cancel", "cancel_order", 0.9, {}), ("id", "order_status", 0.6, {})],
        [("form", "ask"), ("reply", None)], {"order_id": "A12345"},
    ),
    "an order id before the intent is kept": (
        [("id", None, 0.2, {}), ("order", "order_status", 0.9, {})],
        [("fallback", "fallback"), ("reply", "order")], {"order_id": "A12345"},
    ),
    "an order id two messages back is asked again": (
        [("id", None, 0.2, {}), ("hello", "greet", 0.9, {}), ("order", "order_status", 0.9, {})],
        [("fallback", "fallback"), ("reply", "greet"), ("form", "ask")], {},
    ),
    "an order id after a reply that could use it answers that intent again": (
        [("refund", "refund_status", 0.8, {}), ("id in words", "order_status", 0.55, {})],
        [("reply", "refund"), ("reply", "refund_id")], {"order_id": "A12345"},
    ),
    "an order id with a confident new request follows the request": (
        [("refund", "refund_status", 0.8, {}), ("id in words", "order_status", 0.9, {})],
        [("reply", "refund"), ("reply", "order")], {"order_id": "A12345"},
    ),
    "the same question about something else gets that reply again": (
        [("address", "change_address", 0.9, {}), ("what about", None, 0.2, {})],
        [("reply", "address"), ("reply", "address")], {},
    ),
    "a 'what about' with a confident new intent follows the intent": (
        [("address", "change_address", 0.9, {}), ("what about", "greet", 0.9, {})],
        [("reply", "address"), ("reply", "greet")], {},
    ),
    "a 'what about' while a form asks is answered by the form": (
        [("order", "order_status", 0.9, {}), ("what about", None, 0.2, {})],
        [("form", "ask"), ("form", "ask")], {},
    ),
    "an intent whose replies need the order id asks for it": (
        [("invoice", "invoice", 0.9, {}), ("id", None, 0.2, {})],
        [("form", "ask"), ("reply", "invoice")], {"order_id": "A12345"},
    ),
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("case", list(CONVERSATIONS), ids=list(CONVERSATIONS))
def test_conversation_rules(case, language, conversation_domain):
    turns, expected, slots = CONVERSATIONS[case]
    messages = [says(language, words, intent, conf, **extra) for words, intent, conf, extra in turns]
    # a bare order number has no language: the conversation's (a widget's page) is kept
    decisions, state = talk(conversation_domain, messages, ConversationState(language=language))
    for decision, (kind, key) in zip(decisions, expected, strict=True):
        assert decision.kind == kind, decision.reason
        if key is not None:
            assert decision.text == TEXTS[key][language], decision.reason
        assert decision.sources == [] and decision.language == language
    assert state.slots == slots
    if expected[-1][0] == "cancel":
        assert state.active_form is None


@pytest.mark.parametrize("language", ["zh", "en"])
def test_handoff_triggers_are_typed(language, conversation_domain):
    angry = says(language, "angry", "greet", 0.3, sentiment=NEGATIVE)
    cases = [
        ([says(language, "hello", "human_agent", 0.9)], "requested"),
        ([angry, angry], "sentiment"),
        ([says(language, "joke", None, 0.1)] * 3, "fallbacks"),
    ]
    for messages, trigger in cases:
        decisions, state = talk(conversation_domain, messages)
        assert (decisions[-1].kind, decisions[-1].trigger, state.handed_off) == ("handoff", trigger, True)
        assert all(d.trigger is None for d in decisions[:-1])
    assert decide(says(language, "hello", "greet"), ConversationState(), conversation_domain)[0].trigger is None


# KB hits: (intent, confidence, hit) -> (kind, text key, sources)
KNOWLEDGE = {
    "a near-exact FAQ match beats a weak intent": (("order_status", 0.49), FAQ, ("kb", "faq", ["faq.csv:3"])),
    "a confident intent beats a near-exact FAQ match": (("greet", 0.9), FAQ, ("reply", "greet", [])),
    "out of scope with a close passage": ((None, 0.2), CLOSE_FAQ, ("kb", "close_faq", ["faq.csv:4"])),
    "weak intent and weak passage: an honest fallback": (("order_status", 0.3), UNRELATED, ("fallback", "fallback", [])),
    "faq intent with a weak passage: no source": (("faq", 0.9), UNRELATED, ("fallback", "fallback", [])),
    "a passage closer to the question than the intent's reply answers instead": (
        ("change_address", 0.9), CLOSER_FAQ, ("kb", "closer_faq", ["faq.csv:5"]),
    ),
    "a passage about as close as the intent's reply does not": (
        ("change_address", 0.9), dataclasses.replace(CLOSER_FAQ, replies={"change_address": 0.9}),
        ("reply", "address", []),
    ),
    "a closer passage below kb_threshold does not": (
        ("change_address", 0.9), dataclasses.replace(CLOSER_FAQ, score=0.88, replies={"change_address": 0.7}),
        ("reply", "address", []),
    ),
    "a closer passage does not replace a form's question": (
        ("order_status", 0.9), dataclasses.replace(CLOSER_FAQ, replies={"order_status": 0.7}),
        ("form", "ask", []),
    ),
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("case", list(KNOWLEDGE), ids=list(KNOWLEDGE))
def test_knowledge_base_rules(case, language, conversation_domain):
    (intent, confidence), hit, (kind, key, sources) = KNOWLEDGE[case]
    searched = []
    message = says(language, "question", intent, confidence)
    decision, _ = decide(message, ConversationState(), conversation_domain, lambda text: searched.append(text) or hit)
    assert (decision.kind, decision.text, decision.sources) == (kind, TEXTS[key][language], sources), decision.reason
    assert set(searched) <= {message.text}


def waiting(now=1000.0, **fields):
    """The state of a conversation handed off at ``now``."""
    return ConversationState(language=fields.pop("language", "en"), handed_off=True, waiting_since=now, **fields)


# a customer waiting for an agent: (message, seconds waited) -> (kind, text key, release)
WAITING = {
    "asking again stays with the queue": (("hello", "greet", 0.9), 60, ("handoff", "silent", None)),
    "never mind withdraws the request": (("never mind", "never_mind", 0.9), 60, ("cancel", "never_mind", "customer_withdrew")),
    "an unsure never mind stays": (("never mind", "never_mind", 0.3), 60, ("handoff", "silent", None)),
    "waiting past the timeout gets the bot back": (("hello", "greet", 0.9), 600, ("reply", "greet", "timeout")),
    "without a clock there is no timeout": (("hello", "greet", 0.9), None, ("handoff", "silent", None)),
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("case", list(WAITING), ids=list(WAITING))
def test_waiting_for_an_agent(case, language, conversation_domain):
    (words, intent, confidence), waited, (kind, key, release) = WAITING[case]
    state = waiting(language=language)
    now = None if waited is None else 1000.0 + waited
    decision, after = decide(says(language, words, intent, confidence), state, conversation_domain, now=now)
    assert (decision.kind, decision.text, decision.release) == (kind, TEXTS[key][language], release)
    assert after.handed_off == (release is None) and decision.handoff == (kind == "handoff")
    if release is None:
        assert after == state  # still waiting: nothing changes


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_handoff_records_when_the_wait_began(language, conversation_domain):
    message = says(language, "hello", "human_agent", 0.9)
    decision, state = decide(message, ConversationState(), conversation_domain, now=1234.5)
    assert decision.trigger == "requested" and state.waiting_since == 1234.5


TWO = {  # clauses: (words, intent, confidence) each, policy settings -> joined answer (None) or "whole"
    "two confident questions": ([("order", "order_status", 0.9), ("address", "change_address", 0.9)], {}, None),
    "one unsure clause: only the whole message": (
        [("order", "order_status", 0.9), ("joke", None, 0.2)], {}, "whole",
    ),
    "the same answer twice is given once": ([("address", "change_address", 0.9)] * 2, {}, "whole"),
    "a middling clause beside a sure one, at clause_threshold": (
        [("order", "order_status", 0.9), ("address", "change_address", 0.5)], {"clause_threshold": 0.45}, None,
    ),
    "a middling clause without clause_threshold: only the whole message": (
        [("order", "order_status", 0.9), ("address", "change_address", 0.5)], {}, "whole",
    ),
    "two middling clauses: only the whole message": (
        [("order", "order_status", 0.5), ("address", "change_address", 0.5)], {"clause_threshold": 0.45}, "whole",
    ),
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("case", list(TWO), ids=list(TWO))
def test_two_questions_in_one_message(case, language, conversation_domain):
    clauses, settings, outcome = TWO[case]
    parts = [says(language, words, intent, conf) for words, intent, conf in clauses]
    order = parts[0].text + " A12345"
    if clauses[0][0] == "order":
        parts[0] = nlu(order, parts[0].intent, clauses[0][2], entities=[order_id(order)])
    whole = nlu(" ".join(p.text for p in parts), "change_address", 0.6, entities=parts[0].entities)
    whole.parts = parts
    decision, state = decide(whole, ConversationState(), with_policy(conversation_domain, **settings))
    if outcome == "whole":
        assert (decision.kind, decision.text) == ("reply", ADDRESS[language])
    else:
        assert decision.kind == "reply"
        assert decision.text == ORDER_REPLY[language] + "\n\n" + ADDRESS[language]
        assert state.slots == {"order_id": "A12345"} and state.last_intent == "change_address"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_withdrawing_with_a_question_answers_the_question(language, conversation_domain):
    parts = [says(language, "never mind", "never_mind", 0.9), says(language, "address", "change_address", 0.9)]
    whole = nlu(parts[0].text + " " + parts[1].text, "change_address", 0.6)
    whole.parts = parts
    decision, state = decide(whole, waiting(language=language), conversation_domain, now=1010.0)
    assert decision.release == "customer_withdrew" and not state.handed_off
    assert decision.text == NEVER_MIND[language] + "\n\n" + ADDRESS[language]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(("trigger", "kind"), [("fallbacks", "reply"), ("requested", "handoff"), ("sentiment", "handoff")])
def test_handed_off_for_fallbacks_an_understood_question_is_answered(trigger, kind, language, conversation_domain):
    state = waiting(language=language, handoff_trigger=trigger)
    decision, after = decide(says(language, "address", "change_address", 0.9), state, conversation_domain, now=1010.0)
    assert decision.kind == kind and after.handed_off == (kind == "handoff")
    assert decision.release == ("understood" if kind == "reply" else None)
    unsure = says(language, "address", "change_address", 0.55)
    assert decide(unsure, state, conversation_domain, now=1010.0)[0].kind == "handoff"
