"""``data/reviewed.yml``: the labelled reviews of the database as training examples, for one training.

The reviews table of the shared store is the only source; the file is a derived export that lives for the
length of a training (:func:`reviewed_for_training`: written from the store right before, removed right
after), so no instance keeps one that an erasure elsewhere could not reach. Each write regenerates it
whole from the reviews still in the database; merging with what the file held, or tagging its entries
with turn ids to delete them later, would keep text whose review is gone. An erasure on the instance
that is training rewrites its file at once (:func:`refresh_reviewed`); everywhere else there is none.
Examples of one's own belong in ``data/nlu.yml``.

Writers take a lock first (a retrain's export and an erasure may run in different server workers): an
export that read the reviews before an erasure committed has finished writing before the erasure's own
rewrite reads them again, so the last write never holds an erased text.
"""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import yaml

from kefu.entities import parse_inline
from kefu.project import Project
from kefu.project.training import reviewed_file
from kefu.store import Repository, ReviewRecord

PAGE = 200
LOCK_FILE = "reviewed.lock"  # in models/, which projects keep out of version control
REVIEWED_HEADER = (
    "# Written by kefu from the reviews labelled in the dashboard, for one training with data/nlu.yml,\n"
    "# and removed after it: the database is where they live. Own examples go in data/nlu.yml.\n"
)


def export_reviewed(repo: Repository, project: Project, since: datetime | None = None) -> tuple[int, int]:
    """Regenerate ``data/reviewed.yml`` from the labelled reviews; return (examples in it, those labelled
    after ``since``: all of them without it).

    A text labelled twice takes its latest label. Texts that look like entity markup (``[x](type)``) are
    left out: the loader would read them as markup. Without labelled reviews the file is deleted (the
    loader refuses a file without examples).
    """
    with _writing(project):
        labels = _labels(repo)
        _make_hold(reviewed_file(project), _file_text(labels))
    added = sum(1 for _, labelled_at in labels.values() if since is None or labelled_at > since)
    return len(labels), added


@contextmanager
def reviewed_for_training(
    repo: Repository, project: Project, since: datetime | None = None
) -> Iterator[tuple[int, int]]:
    """``data/reviewed.yml`` exported from the store (:func:`export_reviewed`'s counts) for the block, a
    training, and removed when it ends however it ends."""
    counts = export_reviewed(repo, project, since)
    try:
        yield counts
    finally:
        with _writing(project):
            reviewed_file(project).unlink(missing_ok=True)


def refresh_reviewed(repo: Repository, project: Project) -> None:
    """Regenerate the project's reviewed file if it has one (a training is under way here, or an older kefu
    or a crash left it), so that it holds no text of a review deleted since; never create one."""
    with _writing(project):
        path = reviewed_file(project)
        if path.is_file():
            _make_hold(path, _file_text(_labels(repo)))


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _make_hold(path: Path, text: str | None) -> None:
    """Make the file hold exactly ``text`` (None: no file), writing only when that changes something."""
    wanted = None if text is None else text.encode("utf-8")
    if (path.read_bytes() if path.is_file() else None) == wanted:
        return
    if text is None:
        path.unlink()
    else:
        write_atomic(path, text)


def _labels(repo: Repository) -> dict[str, tuple[str, datetime]]:
    """text -> (corrected intent, when labelled) of every labelled review, the latest label winning."""
    reviews: list[ReviewRecord] = []
    while True:
        page = repo.review_queue("labelled", limit=PAGE, offset=len(reviews))
        reviews += page
        if len(page) < PAGE:
            break
    labels: dict[str, tuple[str, datetime]] = {}
    for review in sorted(reviews, key=lambda r: r.reviewed_at or r.created_at):
        text = " ".join(review.text.split())
        if text and review.corrected_intent and parse_inline(text)[0] == text:
            labels[text] = (review.corrected_intent, review.reviewed_at or review.created_at)
    return labels


def _file_text(labels: dict[str, tuple[str, datetime]]) -> str | None:
    return REVIEWED_HEADER + _yaml({text: intent for text, (intent, _) in labels.items()}) if labels else None


def _yaml(labels: dict[str, str]) -> str:
    by_intent: dict[str, list[str]] = {}
    for text, intent in labels.items():
        by_intent.setdefault(intent, []).append(text)
    data = {
        "version": "3.1",
        "nlu": [{"intent": intent, "examples": texts} for intent, texts in sorted(by_intent.items())],
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


@contextmanager
def _writing(project: Project) -> Iterator[None]:
    """An exclusive lock on the project's reviewed file, across threads and server workers."""
    lock = project.models_dir / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock
