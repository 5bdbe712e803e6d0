import textwrap
from pathlib import Path

import pytest

from kefu.dialogue import analyse_domain, load_domain, parse_domain, validate_domain
from kefu.dialogue.domain import PolicySettings
from kefu.errors import ConfigError

from .conftest import DOMAIN_FILE, ENTITY_TYPES, MODEL_INTENTS

INTENTS = ["greet", "order_status", "human_agent"]

BASE = """\
languages: [zh, en]
intents:
  greet:
    replies: {zh: ["您好！"], en: ["Hi!"]}
  order_status:
    replies: {zh: ["订单 {order_id} 已发货。"], en: ["Order {order_id} has shipped."]}
    form: order_lookup
  human_agent:
    handoff: true
slots:
  order_id: {entity: order_id}
forms:
  order_lookup:
    required: [order_id]
    ask:
      order_id: {zh: ["请提供订单号。"], en: ["Your order number?"]}
fallback: {zh: ["抱歉。"], en: ["Sorry."]}
clarify: {zh: ["您是想问：{options}？"], en: ["Did you mean: {options}?"]}
handoff_reply: {zh: ["正在转接。"], en: ["Connecting you."]}
intent_labels:
  greet: {zh: 打招呼, en: Greeting}
  order_status: {zh: 查询订单, en: Order status}
  human_agent: {zh: 人工客服, en: Talk to a person}
policy:
  max_fallbacks: 2
"""


def line_of(text: str, marker: str) -> int:
    """1-based line of the only line containing ``marker``."""
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(lines) == 1, f"marker {marker!r} is on lines {lines}"
    return lines[0]


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    monkeypatch.chdir(tmp_path)  # so that problems read "domain.yml:LINE: ..."
    Path("domain.yml").write_text(text, encoding="utf-8")
    return "domain.yml"


def validate_lines(*args) -> list[str]:
    """validate_domain's problems as the lines `kefu validate` prints."""
    return [str(problem) for problem in validate_domain(*args)]


def test_fixture_and_base_domains_are_clean(tmp_path, monkeypatch):
    assert validate_lines(DOMAIN_FILE, [i for i in MODEL_INTENTS if i != "goodbye"], ENTITY_TYPES) == []
    assert validate_lines(write(tmp_path, monkeypatch, BASE), INTENTS, ENTITY_TYPES) == []


def test_the_documented_example_is_valid():
    import kefu.dialogue.domain_file as module

    doc = module.__doc__
    example = textwrap.dedent(doc[doc.index("::\n") + 3 : doc.index("Sections ``languages``")])
    intents = ["greet", "order_status", "refund", "human_agent", "faq_shipping"]
    domain, problems = analyse_domain(example, "example", intents, ["order_id"])
    assert problems == [] and domain is not None
    assert domain.policy == PolicySettings()  # the example lists the defaults


def test_loaded_domain(domain):
    assert domain.languages == ("zh", "en")
    assert domain.intents["order_status"].form == "order_lookup"
    assert domain.intents["human_agent"].handoff
    assert domain.intents["faq_shipping"].replies == {}
    assert domain.forms["refund_request"].required == ("order_id", "reason")
    assert domain.forms["refund_request"].ask["reason"]["en"] == ("Why would you like a refund?",)
    assert domain.slots["reason"].free_text and domain.slots["order_id"].entity == "order_id"
    assert domain.policy.kb_threshold == 0.6
    assert domain.label("refund", "zh") == "申请退款" and domain.label("goodbye", "en") == "goodbye"
    # the model's "goodbye" has no entry: a warning, not an error
    assert len(domain.warnings) == 1 and "no entry for model intents goodbye" in str(domain.warnings[0])


# (old, new, marker on the reported line, expected message)
CASES = {
    "broken YAML": (
        "    form: order_lookup", "   form: order_lookup", "   form: order_lookup",
        "invalid YAML: expected <block end>, but found '<block mapping start>'",
    ),
    "unknown intent": (
        "  greet:\n", "  gret:\n", "  gret:",
        "intents.gret: unknown intent 'gret', the model does not predict it (did you mean 'greet'?)",
    ),
    "reply missing a language": (
        'en: ["Hi!"]}', "}", "您好",
        "intents.greet.replies: missing language 'en'",
    ),
    "reply in an undeclared language": (
        'en: ["Hi!"]}', 'en: ["Hi!"], fr: ["Salut !"]}', "Salut",
        "intents.greet.replies: language 'fr' is not in languages (zh, en)",
    ),
    "unsupported language": ("languages: [zh, en]", "languages: [zh, en, fr]", "languages:",
                             "languages: 'fr' is not supported (supported: zh, en)"),
    "placeholder of an unknown slot": (
        "Order {order_id} has", "Order {order_no} has", "{order_no}",
        ("intents.order_status.replies.en: placeholder {order_no} refers to unknown slot 'order_no' "
        "(did you mean 'order_id'?)"),
    ),
    "broken placeholder": (
        "Order {order_id} has", "Order {order_id has", "{order_id has",
        ("intents.order_status.replies.en: broken placeholder in 'Order {order_id has shipped.' "
        "(expected '}' before end of string; write {{ and }} for braces)"),
    ),
    "placeholder with a format spec": (
        "Order {order_id} has", "Order {order_id!r} has", "{order_id!r}",
        "intents.order_status.replies.en: placeholder {order_id} must be a plain {slot_name}",
    ),
    "form requires an unknown slot": (
        "required: [order_id]", "required: [order_id, email]", "required:",
        "forms.order_lookup.required: unknown slot 'email'",
    ),
    "form asks an unknown slot": (
        '      order_id: {zh: ["请提供订单号。"], en: ["Your order number?"]}\n',
        (
            '      order_id: {zh: ["请提供订单号。"], en: ["Your order number?"]}\n'
            '      phone: {zh: ["电话？"], en: ["Phone?"]}\n'
        ),
        "phone:",
        "forms.order_lookup.ask: unknown slot 'phone'",
    ),
    "form without a question": (
        '      order_id: {zh: ["请提供订单号。"], en: ["Your order number?"]}\n', "", "    ask:",
        "forms.order_lookup.ask: no question for required slot 'order_id'",
    ),
    "intent names an unknown form": (
        "form: order_lookup", "form: order_lokup", "form: order_lokup",
        "intents.order_status.form: unknown form 'order_lokup' (did you mean 'order_lookup'?)",
    ),
    "slot of an entity no extractor produces": (
        "{entity: order_id}", "{entity: order_number}", "order_id: {entity",
        ("slots.order_id: never filled: no extractor produces entity type 'order_number' "
        "(known types: email, order_id)"),
    ),
    "free-text slot no form asks": (
        "slots:\n", "slots:\n  note: {free_text: true}\n", "note:",
        ("slots.note: never filled: a free-text slot is filled only when a form asks for it, and no form "
        "requires it"),
    ),
    "slot with neither entity nor free_text": (
        "slots:\n", "slots:\n  note: {free_text: false}\n", "note:",
        "slots.note: give either 'entity: TYPE' or 'free_text: true'",
    ),
    "label missing a language": (
        "greet: {zh: 打招呼, en: Greeting}", "greet: {zh: 打招呼}", "greet: {zh",
        "intent_labels.greet: missing language 'en'",
    ),
    "label of an unknown intent": (
        "  greet: {zh: 打招呼, en: Greeting}",
        "  greet: {zh: 打招呼, en: Greeting}\n  bye: {zh: 再见, en: Bye}",
        "bye:", "intent_labels.bye: unknown intent 'bye'",
    ),
    "name YAML reads as a boolean": (
        "  human_agent:\n", "  yes:\n", "  yes:", "intents: True is not a name (quote it)",
    ),
    "slot name that cannot be a placeholder": (
        "slots:\n", "slots:\n  order-no: {entity: order_id}\n", "order-no",
        "slots: 'order-no' is not a valid name (letters, digits and _ only)",
    ),
    "unknown section": (
        "handoff_reply:", "handof_reply:", "handof_reply:",
        "unknown section 'handof_reply' (did you mean 'handoff_reply'?)",
    ),
    "unknown key in an intent": (
        "    handoff: true", "    handoff: true\n    reply: {zh: [好], en: [OK]}", "    reply:",
        "intents.human_agent: unknown key 'reply' (allowed: replies, form, handoff, cancel)",
    ),
    "policy value out of range": (
        "max_fallbacks: 2", "max_fallbacks: -1", "max_fallbacks",
        "policy.max_fallbacks = -1 is invalid (an integer >= 0, or null to never hand off after fallbacks)",
    ),
    "unknown policy setting": (
        "max_fallbacks: 2", "max_fallback: 2", "max_fallback",
        "policy: unknown setting 'max_fallback' (did you mean 'max_fallbacks'?)",
    ),
    "duplicate key": (
        "handoff_reply:", "fallback: {zh: [嗯], en: [Hm]}\nhandoff_reply:", "[Hm]",
        "duplicate key 'fallback' (first at line 17); YAML keeps only the last",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_problem_is_reported_with_its_line(case, tmp_path, monkeypatch):
    old, new, marker, message = CASES[case]
    assert old in BASE
    text = BASE.replace(old, new, 1)
    problems = validate_lines(write(tmp_path, monkeypatch, text), INTENTS, ENTITY_TYPES)
    assert f"domain.yml:{line_of(text, marker)}: {message}" in problems, problems


def test_missing_section_is_reported_on_line_1(tmp_path, monkeypatch):
    text = BASE.replace('clarify: {zh: ["您是想问：{options}？"], en: ["Did you mean: {options}?"]}\n', "")
    assert validate_lines(write(tmp_path, monkeypatch, text)) == ["domain.yml:1: missing section 'clarify'"]


def test_checks_needing_model_or_extractors_are_skipped_without_them(tmp_path, monkeypatch):
    text = BASE.replace("  greet:\n", "  gret:\n").replace("{entity: order_id}", "{entity: order_number}")
    problems = validate_lines(write(tmp_path, monkeypatch, text))
    line = line_of(text, "intents:")
    message = "intent_labels: no button title for gret; clarify buttons show the intent name"
    assert problems == [f"domain.yml:{line}: warning: {message}"]


def test_problems_come_in_line_order_and_load_raises_the_first(tmp_path, monkeypatch):
    text = BASE.replace("max_fallbacks: 2", "max_fallbacks: -1").replace('en: ["Hi!"]}', "}")
    path = write(tmp_path, monkeypatch, text)
    problems = validate_lines(path, INTENTS, ENTITY_TYPES)
    assert [p.split(":")[1] for p in problems] == [str(line_of(text, "您好")), str(line_of(text, "max_f"))]
    with pytest.raises(ConfigError) as error:
        load_domain(path, INTENTS, ENTITY_TYPES)
    assert str(error.value) == f"{problems[0]} (and 1 more problem)"


def test_warnings_do_not_stop_loading(tmp_path, monkeypatch):
    text = BASE.replace("  human_agent: {zh: 人工客服, en: Talk to a person}\n", "")
    path = write(tmp_path, monkeypatch, text)
    domain = load_domain(path, [*INTENTS, "goodbye"], ENTITY_TYPES)
    line = line_of(text, "intents:")
    assert set(map(str, domain.warnings)) == {
        (
            f"domain.yml:{line}: warning: intents: no entry for model intents goodbye; "
            "they are answered from the knowledge base or with the fallback"
        ),
        (
            f"domain.yml:{line}: warning: intent_labels: no button title for human_agent; "
            "clarify buttons show the intent name"
        ),
    }


def test_missing_file_and_empty_file(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="domain file not found"):
        load_domain(tmp_path / "nope.yml")
    assert validate_lines(tmp_path / "nope.yml") == [f"{tmp_path / 'nope.yml'}: domain file not found"]
    with pytest.raises(ConfigError, match="domain.yml:1: a domain file must be a mapping"):
        load_domain(write(tmp_path, monkeypatch, ""))


def test_underscore_sections_hold_yaml_anchors():
    text = BASE.replace('fallback: {zh: ["抱歉。"], en: ["Sorry."]}', "fallback: *sorry")
    domain = parse_domain('_shared: &sorry {zh: ["抱歉。"], en: ["Sorry."]}\n' + text, intents=INTENTS)
    assert domain.fallback == {"zh": ("抱歉。",), "en": ("Sorry.",)}


def test_intent_names_need_not_be_identifiers():
    text = BASE.replace("  greet:\n", '  "faq/greet":\n').replace("  greet: {zh", '  "faq/greet": {zh')
    domain = parse_domain(text, intents=["faq/greet", "order_status", "human_agent"])
    assert domain.label("faq/greet", "en") == "Greeting"


def test_parse_domain_from_text_and_single_string_texts():
    text = BASE.replace('fallback: {zh: ["抱歉。"], en: ["Sorry."]}', "fallback: {zh: 抱歉。, en: Sorry.}")
    domain = parse_domain(text, intents=INTENTS)
    assert domain.fallback == {"zh": ("抱歉。",), "en": ("Sorry.",)}
    assert domain.policy.max_fallbacks == 2 and domain.policy.confidence_threshold == 0.5
