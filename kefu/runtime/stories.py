"""Run a trained project's stories (its ``tests/*.yml``) against its bot, on a throwaway database.

``kefu test`` and the retrain job's check before a swap both come here, so a story means the same in both.
"""

import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kefu.knowledge import Embedder
from kefu.nlu.oos import OOS_LABEL
from kefu.runtime.bot import Bot
from kefu.store import open_repository
from kefu.stories import StoryError, StoryReport, bot_sender, load_stories, run_stories, story_files

TESTS_DIR = "tests"


def project_story_files(project_dir: str | Path) -> list[Path]:
    """The story files of a project: ``tests/*.yml`` (none when it has no ``tests/`` folder)."""
    return story_files(Path(project_dir) / TESTS_DIR)


def run_project_stories(
    project_dir: str | Path,
    files: Sequence[str | Path] | None = None,
    *,
    embedder: Embedder | None = None,
) -> StoryReport:
    """Play the stories of ``files`` (default: the project's ``tests/*.yml``) against the project's trained
    bot; :class:`StoryError` for a malformed story or when there are none.

    Conversations go to a temporary SQLite database, deleted afterwards, so the project's own database is
    never touched; reply variants are picked with a fixed seed, so a run can be repeated exactly."""
    paths = list(files) if files is not None else project_story_files(project_dir)
    if not paths:
        raise StoryError(f"{Path(project_dir) / TESTS_DIR}: no story files (*.yml)")
    load_stories(paths)  # a malformed story is reported before the model is loaded
    with tempfile.TemporaryDirectory(prefix="kefu-stories-") as folder:
        repo = open_repository(f"sqlite:///{Path(folder) / 'stories.db'}")
        try:
            bot = Bot(project_dir, repo, embedder=embedder, rng=random.Random(0), watch=False)
            domain = bot.engine.domain
            stories = load_stories(paths, intents={*bot.intents, *domain.intents, OOS_LABEL}, slots=domain.slots)
            return run_stories(stories, bot_sender(bot))
        finally:
            repo.store.dispose()
