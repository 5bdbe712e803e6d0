from pathlib import Path

from kefu.problems import Problem, errors_only
from kefu.project.validate import validate_project

from .conftest import TEMPLATE, edit, line_of


def lines(problems: list[Problem]) -> list[str]:
    """The problems as `kefu validate` prints them."""
    return [str(problem) for problem in problems]


def validate_lines(path: Path) -> list[str]:
    return lines(validate_project(path))


def test_template_is_clean():
    # not even warnings: the shipped demo is the example of a well-kept project
    assert validate_lines(TEMPLATE) == []


def test_reply_missing_a_language(project: Path):
    domain = project / "domain.yml"
    edit(domain, '      zh: ["不客气！还有其他可以帮您的吗？", "很高兴能帮到您～还有别的问题随时问我。"]\n', "")
    line = line_of(domain, "replies:", after="  thanks:")
    assert validate_lines(project) == [f"{domain}:{line}: intents.thanks.replies: missing language 'zh'"]


def test_reply_with_an_unknown_slot(project: Path):
    domain = project / "domain.yml"
    edit(domain, "收到，订单 {order_id}。", "收到，订单 {order_number}。")
    line = line_of(domain, "{order_number}")
    assert validate_lines(project) == [
        (f"{domain}:{line}: intents.order_status.replies.zh: placeholder {{order_number}} refers to unknown "
        "slot 'order_number' (did you mean 'order_id'?)")
    ]


def test_domain_intent_the_data_does_not_have(project: Path):
    domain = project / "domain.yml"
    edit(domain, "  goodbye:\n    replies:", "  weather:\n    replies: {zh: 晴, en: Sunny}\n  goodbye:\n    replies:")
    problems = validate_project(project)
    line = line_of(domain, "  weather:")
    # ...and it has no button title, which is only a warning
    assert lines(errors_only(problems)) == [f"{domain}:{line}: intents.weather: unknown intent 'weather', the model does not predict it"]
    assert any(problem.is_warning and "no button title for weather" in str(problem) for problem in problems)


def test_bad_faq_header(project: Path):
    faq = project / "knowledge" / "faq.csv"
    edit(faq, "question,answer,lang\n", "q,answer,lang\n")
    [problem] = validate_project(project)
    assert str(problem).startswith(f"{faq}:1: ")
    assert "question" in str(problem)
    assert not problem.is_warning


def test_faq_row_without_answer_and_duplicate_question(project: Path):
    faq = project / "knowledge" / "faq.csv"
    first = line_of(faq, "有礼品包装吗？,")
    with faq.open("a", encoding="utf-8") as file:
        file.write("有礼品包装吗？,有的，每单 10 元。,zh\n")
    rows = len(faq.read_text(encoding="utf-8").splitlines())
    assert validate_lines(project) == [
        f"{faq}:{rows}: warning: duplicate question '有礼品包装吗？' (first at line {first})"
    ]
    with faq.open("a", encoding="utf-8") as file:
        file.write("Where is the shop?,,en\n")
    [problem] = validate_project(project)
    assert str(problem).startswith(f"{faq}:{rows + 1}: ")
    assert not problem.is_warning


def test_knowledge_problems_that_are_warnings(project: Path):
    (project / "knowledge" / "empty.md").write_text("\n", encoding="utf-8")
    (project / "knowledge" / "photo.png").write_bytes(b"\x89PNG")
    (project / "knowledge" / ".index").mkdir()
    (project / "knowledge" / ".index" / "kb.json").write_text("{}", encoding="utf-8")
    problems = validate_project(project)
    knowledge = project / "knowledge"
    assert lines(problems) == [
        f"{knowledge / 'empty.md'}: warning: no text, so nothing to answer from",
        f"{knowledge / 'photo.png'}: warning: ignored: not a knowledge file (.csv, .md, .markdown, .txt)",
    ]
    assert all(problem.is_warning for problem in problems)


def test_missing_knowledge_folder_is_a_warning(project: Path):
    for path in sorted((project / "knowledge").iterdir()):
        path.unlink()
    (project / "knowledge").rmdir()
    [problem] = validate_project(project)
    assert problem.is_warning
    assert str(problem).startswith(f"{project / 'knowledge'}: warning: folder not found")


def test_nlu_problems(project: Path):
    nlu = project / "data" / "nlu.yml"
    first = line_of(nlu, "- 查下物流")
    edit(nlu, "    - 快递单号是多少\n", "    - 快递单号是多少\n    - 查下物流\n    - where is order [A1234](order_id)\n")
    duplicate = line_of(nlu, "- 查下物流", after="- 快递单号是多少")
    annotated = line_of(nlu, "[A1234](order_id)")
    assert validate_lines(project) == [
        f"{nlu}:{duplicate}: warning: duplicate of line {first} (skipped)",
        (f"{nlu}:{annotated}: warning: annotated order_id 'A1234' does not match the kefu.yml pattern for "
        "order_id, so the rule extractor would miss it"),
    ]


def test_intent_with_one_language_only(project: Path):
    nlu = project / "data" / "nlu.yml"
    with nlu.open("a", encoding="utf-8") as file:
        file.write("- intent: weather\n  examples: |\n    - is it raining\n    - how hot is it today\n"
                   "    - will it snow tomorrow\n")
    problems = validate_project(project)
    start = line_of(nlu, "- is it raining")
    assert str(problems[0]) == (
        f"{nlu}:{start}: warning: intent 'weather' has no Chinese examples (at least 3 recommended, "
        "or the model will not know it in Chinese)"
    )
    # the domain has no entry for it, which is a warning as well
    assert errors_only(problems) == []
    assert any("no entry for model intents weather" in str(problem) for problem in problems)


def test_broken_nlu_file_skips_the_checks_that_need_it(project: Path):
    nlu = project / "data" / "nlu.yml"
    edit(nlu, "    - hiya\n", "    hiya\n")
    line = line_of(nlu, "    hiya")
    # the domain is still checked, just not against the intents
    assert validate_lines(project) == [f"{nlu}:{line}: expected an example starting with '- '"]
    nlu.unlink()
    assert validate_lines(project) == [f"{nlu}: file not found"]


def test_broken_settings_are_reported_and_the_rest_still_checked(project: Path):
    settings = project / "kefu.yml"
    edit(settings, "languages: [zh, en]", "languages: [zh, en]\nlanguage: zh")
    faq = project / "knowledge" / "faq.csv"
    edit(faq, "question,answer,lang\n", "question,lang\n")
    problems = validate_lines(project)
    assert problems[0].startswith(f"{settings}:4: unknown key 'language'")
    assert problems[1].startswith(f"{faq}:1: ")
    assert len(problems) == 2


def test_languages_of_settings_and_domain_differ(project: Path):
    edit(project / "kefu.yml", "languages: [zh, en]", "languages: [en]")
    domain = project / "domain.yml"
    line = line_of(domain, "languages: [zh, en]")
    assert validate_lines(project) == [
        (f"{domain}:{line}: warning: languages [zh, en] differ from kefu.yml's [en]; "
        "replies exist only in the domain's languages")
    ]


def test_kept_slot_the_domain_does_not_have_is_a_warning_at_its_line(project: Path):
    settings = project / "kefu.yml"
    edit(settings, "  redact: true\n", "  redact: true\n  keep_slots:\n    - order_id\n    - order_number\n")
    line = line_of(settings, "    - order_number")
    assert validate_lines(project) == [
        (f"{settings}:{line}: warning: privacy.keep_slots: no slot 'order_number' in domain.yml "
        "(did you mean 'order_id'?)")
    ]


def test_not_a_project(tmp_path: Path):
    assert validate_lines(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: project folder not found"]
    problems = validate_lines(tmp_path)
    assert problems[0].startswith(f"{tmp_path / 'kefu.yml'}: file not found")
    assert f"{tmp_path / 'domain.yml'}: domain file not found" in problems


def test_is_warning():
    assert Problem("domain.yml", 3, "no button title", "warning").is_warning
    assert str(Problem("domain.yml", 3, "no button title", "warning")) == "domain.yml:3: warning: no button title"
    assert str(Problem("knowledge", None, "folder not found", "warning")) == "knowledge: warning: folder not found"
    assert not Problem("domain.yml", 3, "intents.x: unknown intent 'x'").is_warning


def test_sentiment_label_outside_the_three_is_an_error_at_its_line(project: Path):
    data = project / "data" / "sentiment.csv"
    with data.open("a", encoding="utf-8") as f:
        f.write("meh whatever,neg\n")
    line = line_of(data, "meh whatever")
    assert lines(errors_only(validate_project(project))) == [
        f"{data}:{line}: sentiment label 'neg' is not one of negative, neutral, positive"
    ]


def test_enabled_sentiment_needs_its_file(project: Path):
    (project / "data" / "sentiment.csv").unlink()
    [problem] = validate_lines(project)
    assert str(project / "data" / "sentiment.csv") in problem


def test_disabled_sentiment_is_not_checked(project: Path):
    edit(project / "kefu.yml", "  enabled: true\n", "  enabled: false\n")
    (project / "data" / "sentiment.csv").unlink()
    assert validate_lines(project) == []


def test_stories_naming_an_unknown_intent_or_slot_or_decision(project: Path):
    stories = project / "tests" / "stories.yml"
    edit(stories, "      - user: 转人工\n        intent: human_agent\n        decision: handoff\n",
         "      - user: 转人工\n        intent: human_agnet\n        decision: hand_off\n")
    edit(stories, "slots: {order_id: B2024110}", "slots: {order: B2024110}")
    intent, slot = line_of(stories, "human_agnet"), line_of(stories, "{order: B2024110}")
    assert validate_lines(project) == [
        f"{stories}:{slot}: slots: unknown slot 'order' (did you mean 'order_id'?)",
        f"{stories}:{intent}: intent: unknown intent 'human_agnet' (did you mean 'human_agent'?)",
        (f"{stories}:{intent + 1}: decision: 'hand_off' is not one of reply, form, kb, clarify, fallback, handoff, "
        "cancel (did you mean 'handoff'?)"),
    ]


def test_a_malformed_story_file_is_named_at_its_line(project: Path):
    broken = project / "tests" / "more.yml"
    broken.write_text("stories:\n  - story: x\n    turns:\n      - user: hi\n        reply: hello\n", encoding="utf-8")
    assert validate_lines(project) == [
        (f"{broken}:5: turn: unknown key 'reply' (allowed: user, intent, decision, handoff, slots, reply_contains, "
        "reply_not_contains, source, tags)")
    ]


def test_with_a_broken_domain_stories_are_checked_for_form_only(project: Path):
    edit(project / "domain.yml", "  thanks:\n    replies:", "  thanks:\n    replys:")
    edit(project / "tests" / "stories.yml", "intent: complaint", "intent: no_such_intent")
    problems = validate_lines(project)
    assert problems and not any("stories.yml" in problem for problem in problems)
