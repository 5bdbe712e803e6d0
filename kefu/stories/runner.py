"""Play stories against anything that answers a customer message, and check every turn.

    report = run_stories(stories, send)      # send(session_id | None, text) -> Observed
    print(report.summary())                  # "12 stories, 31 turns: 30 passed, 1 failed"

The runner needs no bot: ``send`` may wrap a :class:`~kefu.runtime.Bot` (:func:`kefu.stories.bot_sender`),
a server over HTTP or an older kefu in a subprocess. Each story starts a new conversation (session None),
and every turn of a story runs even after one fails, so a report counts each turn on its own.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from kefu.stories.format import NO_SOURCE, Story, TurnExpectation

REPLY_SHOWN = 80  # characters of the reply quoted in a failure


@dataclass
class Observed:
    """What came back for one customer message, as the checks see it.

    ``intent`` is the intent the bot acted on: the one whose reply or form it gave (for an answer to a
    form's question, the form's intent), else the NLU intent (``out_of_scope`` when none fits);
    ``nlu_intent`` is what the model predicted for this message alone, when the sender knows it."""

    session_id: str
    text: str
    buttons: list[str] = field(default_factory=list)
    intent: str | None = None
    confidence: float | None = None
    decision: str | None = None
    handoff: bool = False
    status: str = "bot"
    slots: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    nlu_intent: str | None = None


Send = Callable[[str | None, str], Observed]


@dataclass
class TurnOutcome:
    """One turn of one story: what was expected, what came, and each check that failed."""

    story: Story
    index: int  # 1-based position in the story
    turn: TurnExpectation
    observed: Observed | None  # None when the sender failed
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    def where(self) -> str:
        return self.story.where(self.turn)

    def describe(self) -> str:
        """``file:LINE  story "name" turn N "message": failure; failure``."""
        return (
            f"{self.where()}  story {_quote(self.story.name)} turn {self.index} {_quote(self.turn.user)}: "
            + "; ".join(self.failures)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.story.file,
            "line": self.turn.line,
            "story": self.story.name,
            "turn": self.index,
            "user": self.turn.user,
            "lang": self.story.lang,
            "tags": sorted(set(self.story.tags) | set(self.turn.tags)),
            "passed": self.passed,
            "failures": self.failures,
            "observed": asdict(self.observed) if self.observed is not None else None,
        }


@dataclass
class StoryReport:
    results: list[TurnOutcome]

    @property
    def passed(self) -> int:
        """Turns that passed."""
        return sum(result.passed for result in self.results)

    @property
    def failed(self) -> int:
        """Turns that failed."""
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def stories(self) -> list[Story]:
        return list({id(r.story): r.story for r in self.results}.values())

    def failed_stories(self) -> list[Story]:
        """The stories with at least one failing turn, in order."""
        return list({id(r.story): r.story for r in self.results if not r.passed}.values())

    def failures(self) -> list[TurnOutcome]:
        return [result for result in self.results if not result.passed]

    def summary(self) -> str:
        stories = len(self.stories())
        return (
            f"{stories} stor{'y' if stories == 1 else 'ies'}, {len(self.results)} turn"
            f"{'' if len(self.results) == 1 else 's'}: {self.passed} passed, {self.failed} failed"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "stories": len(self.stories()),
            "turns": len(self.results),
            "passed": self.passed,
            "failed": self.failed,
            "failed_stories": [s.name for s in self.failed_stories()],
            "results": [result.to_dict() for result in self.results],
        }


def run_stories(stories: Iterable[Story], send: Send) -> StoryReport:
    """Play every story through ``send`` and check each turn's expectations."""
    results = []
    for story in stories:
        session: str | None = None
        for index, turn in enumerate(story.turns, start=1):
            try:
                observed = send(session, turn.user)
            except Exception as error:  # noqa: BLE001 - one broken turn is a failed turn, not a dead run
                results.append(TurnOutcome(story, index, turn, None, [f"no answer: {type(error).__name__}: {error}"]))
                continue
            session = observed.session_id
            results.append(TurnOutcome(story, index, turn, observed, check_turn(turn, observed)))
    return StoryReport(results)


def check_turn(turn: TurnExpectation, observed: Observed) -> list[str]:
    """Every expectation of ``turn`` that ``observed`` does not meet, in words; empty when all hold."""
    failures = []
    if turn.intent is not None and observed.intent != turn.intent:
        failures.append(f"expected intent {turn.intent}, got {observed.intent or 'none'}")
    if turn.decision is not None and observed.decision not in turn.decision:
        failures.append(f"expected decision {' or '.join(turn.decision)}, got {observed.decision or 'none'}")
    if turn.handoff is not None and observed.handoff != turn.handoff:
        failures.append(f"expected handoff {str(turn.handoff).lower()}, got {str(observed.handoff).lower()}")
    for name, value in (turn.slots or {}).items():
        got = observed.slots.get(name)
        if value is None and got is not None:
            failures.append(f"expected slot {name} unset, got {_quote(got)}")
        elif value is not None and (got is None or str(got) != str(value)):
            failures.append(f"expected slot {name} = {_quote(value)}, got {_quote(got) if got is not None else 'unset'}")
    reply = observed.text.casefold()
    for text in turn.reply_contains:
        if text.casefold() not in reply:
            failures.append(f"reply should contain {_quote(text)}")
    for text in turn.reply_not_contains:
        if text.casefold() in reply:
            failures.append(f"reply should not contain {_quote(text)}")
    if any(f.startswith("reply should") for f in failures):
        shown = observed.text if len(observed.text) <= REPLY_SHOWN else observed.text[:REPLY_SHOWN] + "…"
        failures.append(f"reply was {_quote(shown)}")
    if turn.source is not None and not _source_ok(turn.source, observed.sources):
        expected = " or ".join("no source" if s == NO_SOURCE else f"source {s}" for s in turn.source)
        failures.append(f"expected {expected}, got {', '.join(observed.sources) or 'no source'}")
    return failures


def _source_ok(allowed: tuple[str, ...], sources: list[str]) -> bool:
    for option in allowed:
        if option == NO_SOURCE:
            if not sources:
                return True
        elif any(source.startswith(option) for source in sources):
            return True
    return False


def _quote(value: Any) -> str:
    return json.dumps(value if isinstance(value, str) else str(value), ensure_ascii=False)
