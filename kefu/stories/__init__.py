"""Conversation tests: stories of customer turns, each with what must hold after the bot answered it.

    from kefu.stories import load_stories, run_stories, bot_sender
    report = run_stories(load_stories(["tests/stories.yml"]), bot_sender(bot))
    print(report.summary())

The file format is described in :mod:`kefu.stories.format`, the checks in :mod:`kefu.stories.runner`.
"""

from kefu.stories.bot import bot_sender
from kefu.stories.format import (
    DECISIONS,
    Story,
    StoryError,
    TurnExpectation,
    check_stories,
    load_stories,
    story_files,
)
from kefu.stories.runner import Observed, Send, StoryReport, TurnOutcome, check_turn, run_stories

__all__ = [
    "DECISIONS",
    "Observed",
    "Send",
    "Story",
    "StoryError",
    "StoryReport",
    "TurnExpectation",
    "TurnOutcome",
    "bot_sender",
    "check_stories",
    "check_turn",
    "load_stories",
    "run_stories",
    "story_files",
]
