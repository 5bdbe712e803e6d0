"""The story file: conversations a bot must hold, turn by turn, with what must hold after each turn.

    stories:
      - story: refund, order id given in the next message   # required, unique in its file
        lang: en                                           # optional: zh | en
        tags: [multi_turn]                                 # optional
        turns:
          - user: I want a refund                          # required: the customer's message
            intent: refund                                 # the intent the bot acted on (out_of_scope allowed)
            decision: form                                 # one of DECISIONS, or a list of allowed ones
          - user: A135791
            decision: reply
            slots: {order_id: A135791}                     # subset match; null: the slot must be unset
            reply_contains: [A135791]                      # text or list, case-insensitive
            reply_not_contains: [物流]
            handoff: false                                 # with / waiting for a human after the turn
            source: none                                   # a cited source or its start, none, or a list
            tags: [order_id_inline]

A source matches the start of a cited one up to a boundary (``. : # /``): ``faq.csv`` and ``faq`` match
``faq.csv:12``, ``returns-policy`` matches ``returns-policy.md#Refunds``, ``faq.csv:1`` does not match
``faq.csv:12``.

:func:`load_stories` reads files of this form; anything malformed raises :class:`StoryError` naming
``file:LINE``. :func:`check_stories` lists every problem instead of stopping at the first (``kefu
validate``), optionally checking intents and slots against the bot's domain.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kefu.errors import DataError
from kefu.problems import Problem, first_of
from kefu.yaml_lines import (
    LineMap,
    LineSeq,
    duplicate_problems,
    kind_of,
    load_yaml,
    suggest,
    yaml_problem,
)

DECISIONS = ("reply", "form", "kb", "clarify", "fallback", "handoff", "cancel")
LANGUAGES = ("zh", "en")
NO_SOURCE = "none"  # `source: none`: the reply must cite no knowledge-base passage
STORY_KEYS = ("story", "lang", "tags", "turns")
TURN_KEYS = (
    "user",
    "intent",
    "decision",
    "handoff",
    "slots",
    "reply_contains",
    "reply_not_contains",
    "source",
    "tags",
)


class StoryError(DataError):
    """A story file that cannot be used; the message starts with ``file:LINE:``."""


@dataclass(frozen=True)
class TurnExpectation:
    """One customer message and what must hold after the bot answered it; None: not checked."""

    user: str
    line: int
    intent: str | None = None
    decision: tuple[str, ...] | None = None  # any of these
    handoff: bool | None = None
    slots: dict[str, Any] | None = None  # value None: the slot must be unset
    reply_contains: tuple[str, ...] = ()
    reply_not_contains: tuple[str, ...] = ()
    source: tuple[str, ...] | None = None  # any of these prefixes; NO_SOURCE: no source at all
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Story:
    name: str
    file: str
    line: int
    turns: tuple[TurnExpectation, ...]
    lang: str | None = None
    tags: tuple[str, ...] = ()

    def where(self, turn: TurnExpectation | None = None) -> str:
        """``file:LINE`` of the story, or of one of its turns."""
        return f"{self.file}:{turn.line if turn is not None else self.line}"


@dataclass
class _Reader:
    """Builds stories from loaded YAML, recording every problem instead of stopping."""

    source: str
    intents: Collection[str] | None = None  # checked against these when given
    slots: Collection[str] | None = None
    problems: list[Problem] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def in_line_order(self) -> list[Problem]:
        return sorted(self.problems, key=lambda problem: problem.line or 0)

    def stories(self, data: Any) -> list[Story]:
        if not isinstance(data, LineMap) or "stories" not in data:
            self.error(getattr(data, "line", 1), "expected a mapping with a 'stories:' list")
            return []
        for key in data:
            if key != "stories":
                self.error(data.line_of(key), f"unknown key {key!r} (a story file holds only 'stories:')")
        items = data["stories"]
        if not isinstance(items, LineSeq) or not items:
            self.error(data.line_of("stories"), f"stories: expected a non-empty list, got {kind_of(items)}")
            return []
        found: list[Story] = []
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            story = self.story(item, items.line_of(index))
            if story is None:
                continue
            if story.name in first:
                self.error(story.line, f"story {story.name!r} is named twice (first at line {first[story.name]})")
            first.setdefault(story.name, story.line)
            found.append(story)
        return found

    def story(self, item: Any, line: int) -> Story | None:
        if not isinstance(item, LineMap):
            self.error(line, f"each story must be a mapping (story:, turns:), got {kind_of(item)}")
            return None
        before = len(self.problems)
        self.unknown_keys(item, STORY_KEYS, "story")
        name = item.get("story")
        if not isinstance(name, str) or not name.strip():
            self.error(item.line_of("story"), f"story: expected a name, got {kind_of(name)}")
        lang = item.get("lang")
        if lang is not None and lang not in LANGUAGES:
            self.error(item.line_of("lang"), f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
        tags = self.texts(item, "tags", "story tags")
        turns = item.get("turns")
        parsed: list[TurnExpectation] = []
        if not isinstance(turns, LineSeq) or not turns:
            self.error(item.line_of("turns"), f"turns: expected a non-empty list of turns, got {kind_of(turns)}")
        else:
            for index, turn in enumerate(turns):
                expectation = self.turn(turn, turns.line_of(index))
                if expectation is not None:
                    parsed.append(expectation)
        if len(self.problems) > before:
            return None
        return Story(name.strip(), self.source, line, tuple(parsed), lang, tags)

    def turn(self, item: Any, line: int) -> TurnExpectation | None:
        if isinstance(item, str):
            self.error(line, "a turn must be a mapping such as '- user: hello' (a key is missing)")
            return None
        if not isinstance(item, LineMap):
            self.error(line, f"a turn must be a mapping with 'user:', got {kind_of(item)}")
            return None
        before = len(self.problems)
        self.unknown_keys(item, TURN_KEYS, "turn")
        user = item.get("user")
        if "user" not in item:
            self.error(line, "turn: 'user' is missing (the customer's message)")
        elif not isinstance(user, str) or not user.strip():
            self.error(item.line_of("user"), f"user: expected the customer's message as text, got {kind_of(user)}"
                       + (" (quote it)" if isinstance(user, int | float | bool) else ""))
        intent = item.get("intent")
        if intent is not None:
            if not isinstance(intent, str) or not intent.strip():
                self.error(item.line_of("intent"), f"intent: expected an intent name, got {kind_of(intent)}")
            elif self.intents is not None and intent not in self.intents:
                self.error(item.line_of("intent"), f"intent: unknown intent {intent!r}{suggest(intent, self.intents)}")
        decision = self.texts(item, "decision", "decision") if "decision" in item else None
        for kind in decision or ():
            if kind not in DECISIONS:
                self.error(
                    item.line_of("decision"),
                    f"decision: {kind!r} is not one of {', '.join(DECISIONS)}{suggest(kind, DECISIONS)}",
                )
        handoff = item.get("handoff")
        if handoff is not None and not isinstance(handoff, bool):
            self.error(item.line_of("handoff"), f"handoff: expected true or false, got {kind_of(handoff)}")
        slots = self.slot_values(item)
        source = None
        if "source" in item:
            source = self.texts(item, "source", "source") if item["source"] is not None else (NO_SOURCE,)
        contains = self.texts(item, "reply_contains", "reply_contains")
        not_contains = self.texts(item, "reply_not_contains", "reply_not_contains")
        tags = self.texts(item, "tags", "turn tags")
        if len(self.problems) > before:
            return None
        return TurnExpectation(
            user=user.strip(),
            line=line,
            intent=intent.strip() if intent is not None else None,
            decision=decision,
            handoff=handoff,
            slots=slots,
            reply_contains=contains,
            reply_not_contains=not_contains,
            source=source,
            tags=tags,
        )

    def slot_values(self, item: LineMap) -> dict[str, Any] | None:
        if "slots" not in item:
            return None
        node, line = item["slots"], item.line_of("slots")
        if node is None:
            return {}
        if not isinstance(node, LineMap):
            self.error(line, f"slots: expected a mapping of slot: value, got {kind_of(node)}")
            return None
        values: dict[str, Any] = {}
        for name, value in node.items():
            value_line = node.line_of(name)
            if not isinstance(name, str):
                self.error(value_line, f"slots: {name!r} is not a slot name")
            elif self.slots is not None and name not in self.slots:
                self.error(value_line, f"slots: unknown slot {name!r}{suggest(name, self.slots)}")
            elif isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
                # YAML reads yes/no/on/off as true/false: say so rather than compare "True"
                self.error(value_line, f"slots.{name}: expected a text, a number or null, got {kind_of(value)}"
                           + (" (quote it)" if isinstance(value, bool) else ""))
            else:
                values[name] = value
        return values

    def texts(self, item: LineMap, key: str, what: str) -> tuple[str, ...]:
        """``item[key]`` as a tuple of non-empty texts (one text or a list of them); () when absent."""
        node, line = item.get(key), item.line_of(key)
        if node is None:
            return ()
        values = [node] if not isinstance(node, LineSeq) else list(node)
        if not all(isinstance(v, str) and v.strip() for v in values):  # [] is none, as leaving it out
            wrong = next((v for v in values if not isinstance(v, str)), node)
            hint = " (quote it)" if isinstance(wrong, int | float | bool) else ""
            self.error(line, f"{what}: expected a text or a list of texts, got {kind_of(wrong)}{hint}")
            return ()
        return tuple(v.strip() for v in values)

    def unknown_keys(self, item: LineMap, allowed: Sequence[str], what: str) -> None:
        for key in item:
            if key not in allowed:
                self.error(
                    item.line_of(key),
                    f"{what}: unknown key {key!r}{suggest(key, allowed)} (allowed: {', '.join(allowed)})",
                )


def check_story_file(
    path: str | Path, intents: Collection[str] | None = None, slots: Collection[str] | None = None
) -> tuple[list[Story], list[Problem]]:
    """The stories of one file and every problem found in it.

    ``intents`` and ``slots``, when given, are the names a story may use (the bot's domain)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], [Problem(source, None, "story file not found")]
    except (OSError, UnicodeDecodeError) as error:
        return [], [Problem(source, None, f"cannot read story file: {error}")]
    reader = _Reader(source, intents, slots)
    try:
        data, duplicates = load_yaml(text)
    except yaml.YAMLError as error:
        return [], [yaml_problem(error, source)]
    reader.problems += duplicate_problems(duplicates, source)
    stories = reader.stories(data)
    return (stories if not reader.problems else []), reader.in_line_order()


def check_stories(
    paths: Iterable[str | Path], intents: Collection[str] | None = None, slots: Collection[str] | None = None
) -> tuple[list[Story], list[Problem]]:
    """:func:`check_story_file` over several files."""
    stories: list[Story] = []
    problems: list[Problem] = []
    for path in paths:
        found, trouble = check_story_file(path, intents, slots)
        stories += found
        problems += trouble
    return stories, problems


def load_stories(
    paths: Iterable[str | Path], intents: Collection[str] | None = None, slots: Collection[str] | None = None
) -> list[Story]:
    """Every story of the files, in order; :class:`StoryError` naming ``file:LINE`` of the first problem."""
    stories, problems = check_stories(paths, intents, slots)
    if problems:
        raise StoryError(first_of(problems))
    return stories


def story_files(folder: str | Path) -> list[Path]:
    """The story files of a project's ``tests/`` folder (``*.yml`` and ``*.yaml``), sorted."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in (".yml", ".yaml"))
