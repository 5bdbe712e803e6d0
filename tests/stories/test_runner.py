"""The runner against a small scripted `send`: each kind of expectation passes and fails when it should."""

import json
from pathlib import Path

import pytest

from kefu.stories import Observed, Story, TurnExpectation, check_turn, load_stories, run_stories

REFUND = Observed(
    session_id="s1",
    text="已为订单 A135791 提交退款申请。",
    buttons=[],
    intent="refund",
    confidence=0.9,
    decision="reply",
    handoff=False,
    status="bot",
    slots={"order_id": "A135791", "count": 2},
    sources=[],
)
KB = Observed("s2", "Yes, we ship to Hong Kong.", decision="kb", intent="faq", sources=["faq.csv:12"])


def turn(**expected) -> TurnExpectation:
    return TurnExpectation(user="A135791", line=3, **expected)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        (REFUND, {"intent": "refund"}),
        (REFUND, {"decision": ("reply",)}),
        (REFUND, {"decision": ("form", "reply")}),
        (REFUND, {"handoff": False}),
        (REFUND, {"slots": {}}),
        (REFUND, {"slots": {"order_id": "A135791"}}),
        (REFUND, {"slots": {"order_id": "A135791", "reason": None}}),
        (REFUND, {"slots": {"count": 2}}),
        (REFUND, {"slots": {"count": "2"}}),
        (REFUND, {"reply_contains": ("a135791", "退款")}),
        (REFUND, {"reply_not_contains": ("物流", "tracking")}),
        (REFUND, {"source": ("none",)}),
        (KB, {"source": ("faq.csv",)}),
        (KB, {"source": ("faq.csv:12",)}),
        (KB, {"source": ("returns-policy", "faq")}),
        (KB, {"source": ("none", "faq.csv")}),
        (Observed("s", "", sources=["returns-policy.md#Refunds"]), {"source": ("returns-policy",)}),
        (Observed("s", "", sources=["help/returns.md#Refunds"]), {"source": ("help",)}),
    ],
)
def test_an_expectation_that_holds_passes(observed: Observed, expected: dict) -> None:
    assert check_turn(turn(**expected), observed) == []


@pytest.mark.parametrize(
    ("observed", "expected", "failures"),
    [
        (REFUND, {"intent": "order_status"}, ["expected intent order_status, got refund"]),
        (REFUND, {"intent": "out_of_scope"}, ["expected intent out_of_scope, got refund"]),
        (REFUND, {"decision": ("form",)}, ["expected decision form, got reply"]),
        (REFUND, {"decision": ("kb", "fallback")}, ["expected decision kb or fallback, got reply"]),
        (REFUND, {"handoff": True}, ["expected handoff true, got false"]),
        (REFUND, {"slots": {"order_id": "A1"}}, ['expected slot order_id = "A1", got "A135791"']),
        (REFUND, {"slots": {"order_id": None}}, ['expected slot order_id unset, got "A135791"']),
        (REFUND, {"slots": {"reason": "broken"}}, ['expected slot reason = "broken", got unset']),
        (REFUND, {"reply_contains": ("A135791", "物流")},
         ['reply should contain "物流"', 'reply was "已为订单 A135791 提交退款申请。"']),
        (REFUND, {"reply_not_contains": ("退款",)},
         ['reply should not contain "退款"', 'reply was "已为订单 A135791 提交退款申请。"']),
        (REFUND, {"source": ("faq.csv",)}, ["expected source faq.csv, got no source"]),
        (KB, {"source": ("none",)}, ["expected no source, got faq.csv:12"]),
        (KB, {"source": ("returns-policy", "faq.csv:1")},
         ["expected source returns-policy or source faq.csv:1, got faq.csv:12"]),
        (Observed("s", "", sources=["returns-policy-zh.md#退款"]), {"source": ("returns-policy",)},
         ["expected source returns-policy, got returns-policy-zh.md#退款"]),
        (KB, {"decision": ("reply",), "handoff": True},
         ["expected decision reply, got kb", "expected handoff true, got false"]),
    ],
)
def test_an_expectation_that_does_not_hold_fails_saying_what_came(
    observed: Observed, expected: dict, failures: list[str]
) -> None:
    assert check_turn(turn(**expected), observed) == failures


def test_a_long_reply_is_cut_in_the_failure() -> None:
    observed = Observed("s", "x" * 200)
    [_, shown] = check_turn(turn(reply_contains=("y",)), observed)
    assert shown == f'reply was "{"x" * 80}…"'


class Scripted:
    """A send function: answers each message from a table, numbers sessions, records what it was given."""

    def __init__(self, answers: dict[str, dict]):
        self.answers = answers
        self.calls: list[tuple[str | None, str]] = []
        self.sessions = 0

    def __call__(self, session_id: str | None, text: str) -> Observed:
        self.calls.append((session_id, text))
        if text == "boom":
            raise RuntimeError("the bot fell over")
        if session_id is None:
            self.sessions += 1
            session_id = f"s{self.sessions}"
        return Observed(session_id, **self.answers[text])


STORIES = """\
stories:
  - story: refund, order id later
    turns:
      - user: i want a refund
        decision: form
      - user: A135791
        decision: reply
        reply_contains: A135791
  - story: broken
    turns:
      - user: boom
      - user: hello
        intent: greet
"""


def test_stories_run_each_in_a_new_conversation_and_every_turn_counts(tmp_path: Path) -> None:
    path = tmp_path / "stories.yml"
    path.write_text(STORIES, encoding="utf-8")
    send = Scripted({
        "i want a refund": {"text": "Which order?", "decision": "form", "intent": "refund"},
        "A135791": {"text": "Where is it? Tracking...", "decision": "form", "intent": "order_status"},
        "hello": {"text": "Hi!", "decision": "reply", "intent": "greet"},
    })
    report = run_stories(load_stories([path]), send)
    assert send.calls == [(None, "i want a refund"), ("s1", "A135791"), (None, "boom"), (None, "hello")]
    assert (report.passed, report.failed, report.ok) == (2, 2, False)
    assert report.summary() == "2 stories, 4 turns: 2 passed, 2 failed"
    assert [s.name for s in report.failed_stories()] == ["refund, order id later", "broken"]
    second, boom = report.failures()
    assert second.describe() == (
        f'{path}:6  story "refund, order id later" turn 2 "A135791": expected decision reply, got form; '
        'reply should contain "A135791"; reply was "Where is it? Tracking..."'
    )
    assert boom.describe() == f'{path}:11  story "broken" turn 1 "boom": no answer: RuntimeError: the bot fell over'
    data = json.loads(json.dumps(report.to_dict()))
    assert (data["stories"], data["turns"], data["passed"], data["failed"]) == (2, 4, 2, 2)
    assert data["results"][1] == {
        "file": str(path), "line": 6, "story": "refund, order id later", "turn": 2, "user": "A135791",
        "lang": None, "tags": [], "passed": False, "failures": second.failures,
        "observed": {
            "session_id": "s1", "text": "Where is it? Tracking...", "buttons": [], "intent": "order_status",
            "confidence": None, "decision": "form", "handoff": False, "status": "bot", "slots": {},
            "sources": [], "nlu_intent": None,
        },
    }
    assert data["results"][2]["observed"] is None


def test_a_report_with_every_turn_passing_is_ok() -> None:
    story = Story("one", "s.yml", 2, (TurnExpectation("hello", 4, intent="greet"),))
    report = run_stories([story], Scripted({"hello": {"text": "Hi!", "intent": "greet"}}))
    assert report.ok and report.summary() == "1 story, 1 turn: 1 passed, 0 failed"
