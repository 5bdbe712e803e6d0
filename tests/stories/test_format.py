"""Story files: what loads, and every malformed story named by file and line."""

from pathlib import Path

import pytest

from kefu.stories import StoryError, TurnExpectation, check_stories, load_stories
from kefu.stories.format import NO_SOURCE


def write(tmp_path: Path, text: str, name: str = "stories.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
stories:
  - story: refund, order id later
    lang: zh
    tags: [multi_turn]
    turns:
      - user: 亲 我要退款
        intent: refund
        decision: form
        slots: {}
      - user: A135791
        decision: [reply, kb]
        slots: {order_id: A135791, reason: null}
        reply_contains: [A135791]
        reply_not_contains: 物流
        handoff: false
        source: none
        tags: [order_id_inline]
  - story: just answered
    turns:
      - user: hello
      - user: faq
        source: [faq.csv, returns-policy]
"""


def test_a_story_file_loads_with_lines_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    first, second = load_stories([path])
    assert (first.name, first.file, first.line, first.lang, first.tags) == (
        "refund, order id later", str(path), 2, "zh", ("multi_turn",)
    )
    assert first.turns[0] == TurnExpectation(user="亲 我要退款", line=6, intent="refund", decision=("form",), slots={})
    turn = first.turns[1]
    assert (turn.line, turn.decision, turn.slots) == (10, ("reply", "kb"), {"order_id": "A135791", "reason": None})
    assert (turn.reply_contains, turn.reply_not_contains, turn.handoff) == (("A135791",), ("物流",), False)
    assert (turn.source, turn.tags) == ((NO_SOURCE,), ("order_id_inline",))
    assert second.turns[0] == TurnExpectation(user="hello", line=20)  # only `user`: nothing else checked
    assert second.turns[1].source == ("faq.csv", "returns-policy")
    assert first.where(turn) == f"{path}:10"


@pytest.mark.parametrize(
    ("turn", "line", "message"),
    [
        ("      - user: hi\n        intnet: greet\n", 5, "turn: unknown key 'intnet' (did you mean 'intent'?)"),
        ("      - intent: greet\n", 4, "turn: 'user' is missing"),
        ("      - user: 12345\n", 4, "user: expected the customer's message as text, got a number (quote it)"),
        ("      - user: hi\n        decision: answer\n", 5, "decision: 'answer' is not one of reply, form, kb"),
        ("      - user: hi\n        decision: [reply, 3]\n", 5, "decision: expected a text or a list of texts"),
        ("      - user: hi\n        handoff: maybe\n", 5, "handoff: expected true or false, got a text"),
        ("      - user: hi\n        slots: [order_id]\n", 5, "slots: expected a mapping of slot: value, got a list"),
        ("      - user: hi\n        slots:\n          ok: yes\n", 6, "slots.ok: expected a text, a number or null"),
        ("      - user: hi\n        reply_contains: 99\n", 5, "reply_contains: expected a text or a list of texts, got a number (quote it)"),
        ("      - user: hi\n        source: [faq.csv, {}]\n", 5, "source: expected a text or a list of texts"),
        ("      - hi\n", 4, "a turn must be a mapping such as '- user: hello'"),
        ("      - user: hi\n        intent: greet\n        intent: bye\n", 6, "duplicate key 'intent' (first at line 5)"),
    ],
)
def test_a_malformed_turn_is_named_by_file_and_line(tmp_path: Path, turn: str, line: int, message: str) -> None:
    path = write(tmp_path, f"stories:\n  - story: one\n    turns:\n{turn}")
    with pytest.raises(StoryError) as error:
        load_stories([path])
    assert str(error.value).startswith(f"{path}:{line}: {message}")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("stories:\n  - story: a\n    turns: []\n", 3, "turns: expected a non-empty list of turns"),
        ("stories:\n  - story: a\n    turn:\n      - user: hi\n", 3, "story: unknown key 'turn'"),
        ("stories:\n  - turns:\n      - user: hi\n", 2, "story: expected a name, got nothing"),
        ("stories:\n  - story: a\n    lang: fr\n    turns:\n      - user: hi\n", 3, "lang: 'fr' is not one of zh, en"),
        ("stories:\n  - story: a\n    turns:\n      - user: hi\n  - story: a\n    turns:\n      - user: yo\n", 5,
         "story 'a' is named twice (first at line 2)"),
        ("- story: a\n", 1, "expected a mapping with a 'stories:' list"),
        ("stories:\n  - story: a\n    turns:\n      - user: [hi\n", 5, "invalid YAML"),
        ("stories:\n  - story: a\n    turns:\n      - user: hi\nextra: 1\n", 5, "unknown key 'extra'"),
    ],
)
def test_a_malformed_story_is_named_by_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    stories, problems = check_stories([path])
    assert stories == []
    assert any(str(problem).startswith(f"{path}:{line}: {message}") for problem in problems), problems
    with pytest.raises(StoryError):
        load_stories([path])


def test_every_problem_is_listed_in_line_order_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "stories:\n  - story: a\n    turns:\n      - user: hi\n        decision: nope\n"
                 "        handoff: 1\n  - story: b\n    turns: []\n")
    stories, problems = check_stories([path])
    assert stories == []
    assert [str(p).split(": ")[0] for p in problems] == [f"{path}:5", f"{path}:6", f"{path}:8"]
    with pytest.raises(StoryError, match=r"\(and 2 more problems\)$"):
        load_stories([path])


def test_names_are_checked_against_the_domain_when_given(tmp_path: Path) -> None:
    path = write(tmp_path, "stories:\n  - story: a\n    turns:\n      - user: hi\n        intent: gret\n"
                 "        slots: {order: A1}\n")
    assert check_stories([path])[1] == []
    problems = check_stories([path], intents=["greet", "out_of_scope"], slots=["order_id"])[1]
    assert [str(problem) for problem in problems] == [
        f"{path}:5: intent: unknown intent 'gret' (did you mean 'greet'?)",
        f"{path}:6: slots: unknown slot 'order' (did you mean 'order_id'?)",
    ]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoryError, match=r"nope\.yml: story file not found$"):
        load_stories([tmp_path / "nope.yml"])


def test_an_empty_list_of_tags_or_texts_means_none(tmp_path: Path) -> None:
    path = write(tmp_path, "stories:\n  - story: x\n    tags: []\n    turns:\n      - user: hi\n        tags: []\n"
                 "        reply_contains: []\n")
    [story] = load_stories([path])
    assert story.tags == () and story.turns[0].tags == () and story.turns[0].reply_contains == ()
