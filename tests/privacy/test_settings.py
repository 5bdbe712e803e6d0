"""The ``privacy:`` section of kefu.yml and the redaction a project gets from it."""

from pathlib import Path

from kefu.project import settings as settings_module
from kefu.project.settings import load_settings, parse_settings
from kefu.runtime.privacy import project_entity_redaction, project_redaction, redact


def settings(privacy: str) -> tuple:
    """The parsed settings, and their problems as the lines `kefu validate` prints."""
    parsed, problems = parse_settings(f"name: shop\nprivacy:\n{privacy}")
    return parsed, [str(problem) for problem in problems]


def test_by_default_a_project_redacts_with_the_built_in_kinds() -> None:
    parsed, problems = parse_settings("name: shop\n")
    assert problems == [] and parsed.privacy.redact and parsed.privacy.phone_regions == ["CN", "US"]
    masked = project_redaction(parsed)("订单A12345，电话13812345678")
    assert masked == redact("订单A12345，电话13812345678") == "订单A12345，电话[PHONE]"


def test_patterns_and_regions_are_used_and_redaction_can_be_switched_off() -> None:
    parsed, _ = settings('  patterns: {member_no: "VIP\\\\d{8}"}\n  phone_regions: [GB]\n')
    assert project_redaction(parsed)("VIP12345678, 020 7946 0958") == "[MEMBER_NO], [PHONE]"
    parsed, _ = settings("  redact: false\n")
    assert project_redaction(parsed)("13812345678") == "13812345678"


def test_an_order_id_the_shops_pattern_matches_is_the_only_number_kept() -> None:
    # the look-alikes: valid numbers after an order word are masked, unless kefu.yml's own
    # entities.regexes pattern for order ids covers them
    parsed, _ = parse_settings("name: shop\n")
    redact = project_redaction(parsed)
    for text in ("订单13812345678", "my order 13812345678 has not arrived", "订单6212260200012345670"):
        assert "[" in redact(text) and not any(c.isdigit() for c in redact(text)), text
    parsed, problems = parse_settings('name: shop\nentities:\n  regexes: {order_id: "62\\\\d{17}"}\n')
    assert problems == []
    assert project_redaction(parsed)("订单6212260200012345670") == "订单6212260200012345670"
    order = {"type": "order_id", "value": "6212260200012345670"}
    assert project_entity_redaction(parsed)(order) == order
    assert project_redaction(parsed)("卡号4111111111111111") == "卡号[CARD]"


def test_bad_privacy_settings_name_their_line() -> None:
    _, problems = settings('  patterns:\n    member_no: "VIP[0-9"\n')
    assert len(problems) == 1 and problems[0].startswith("kefu.yml:4: privacy.patterns.member_no: invalid")
    _, problems = settings('  patterns: {"member no": "x"}\n')
    assert "a pattern name is letters, digits and _" in problems[0]
    _, problems = settings("  phone_regions: [XX]\n  redact: yes please\n")
    assert [problem.split(": ")[1] for problem in problems] == ["privacy.phone_regions[0]", "privacy.redact"]


def test_the_complete_example_in_the_settings_docstring_is_valid() -> None:
    # as written in the source, which is what a reader copies (the docstring itself halves the backslashes)
    source = Path(settings_module.__file__).read_text(encoding="utf-8")
    example = source.split("::\n", 1)[1].split("\n\n", 1)[0]
    parsed, problems = parse_settings("\n".join(line[4:] for line in example.splitlines()))
    assert problems == [] and parsed.privacy.patterns == {"member_no": r"VIP\d{8}"}


def test_retention_and_kept_slots_default_to_keeping_conversations_and_no_slots() -> None:
    parsed, problems = parse_settings("name: shop\n")
    assert problems == [] and parsed.privacy.retention_days is None and parsed.privacy.keep_slots == []
    parsed, problems = settings("  retention_days: 90\n  keep_slots: [order_id]\n")
    assert problems == [] and parsed.privacy.retention_days == 90 and parsed.privacy.keep_slots == ["order_id"]


def test_bad_retention_and_kept_slots_name_the_field_and_line() -> None:
    _, problems = settings("  redact: true\n  retention_days: 0\n")
    assert problems == [
        ("kefu.yml:4: privacy.retention_days: must be at least 1 day, or left out to keep conversations "
         "forever (got 0)")
    ]
    _, problems = settings('  retention_days: "90"\n  keep_slots: order_id\n')
    assert problems == [
        "kefu.yml:3: privacy.retention_days: Input should be a valid integer (got '90')",
        "kefu.yml:4: privacy.keep_slots: Input should be a valid list (got 'order_id')",
    ]
    _, problems = settings("  retention_days: 1.5\n  keep_slots: [order_id, ' ']\n")
    assert problems == [
        "kefu.yml:3: privacy.retention_days: Input should be a valid integer (got 1.5)",
        "kefu.yml:4: privacy.keep_slots: a slot name cannot be blank",
    ]


def test_the_template_project_keeps_conversations_90_days() -> None:
    template = Path(settings_module.__file__).parent / "template"
    assert load_settings(template).privacy.retention_days == 90


def test_entities_of_masked_kinds_are_stored_with_their_placeholder() -> None:
    parsed, _ = settings('  patterns: {member_no: "VIP\\\\d{8}"}\n')
    masked = project_entity_redaction(parsed)
    entity = {"type": "phone", "value": "+8613812345678", "start": 3, "end": 14, "source": "rule:phone"}
    assert masked(entity) == entity | {"value": "[PHONE]"}
    assert masked({"type": "member_no", "value": "VIP12345678"})["value"] == "[MEMBER_NO]"
    # another kind keeps its value, unless the value itself is personal data
    assert masked({"type": "order_id", "value": "A12345"})["value"] == "A12345"
    assert masked({"type": "contact", "value": "li@example.com"})["value"] == "[EMAIL]"
    parsed, _ = settings("  redact: false\n")
    assert project_entity_redaction(parsed)(entity) == entity
