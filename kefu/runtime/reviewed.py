"""``data/reviewed.yml``: the labelled reviews of the database as training examples.

The file is derived data, never a source: every write regenerates it whole from the reviews still in the
database, so erasing or purging a conversation (which deletes its reviews) and rewriting the file leaves
no text of it behind (:class:`kefu.runtime.Erasure` does both). Merging with what the file held, or
tagging its entries with turn ids to delete them later, would keep text whose review is gone: the
entries of hand edits, of reviews deleted by a store-level erasure, of reviews dismissed after labelling.
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
from pathlib import Path

import yaml

from kefu.data import load_examples
from kefu.entities import parse_inline
from kefu.errors import KefuError
from kefu.project import Project
from kefu.runtime.training import reviewed_file
from kefu.store import Repository, ReviewRecord

PAGE = 200
LOCK_FILE = "reviewed.lock"  # in models/, which projects keep out of version control
REVIEWED_HEADER = (
    "# Written by kefu from the reviews labelled in the dashboard, and trained on with data/nlu.yml.\n"
    "# Do not edit: every retrain and every erasure rewrites it from the database. Own examples go in\n"
    "# data/nlu.yml.\n"
)


def export_reviewed(repo: Repository, project: Project) -> tuple[int, int]:
    """Regenerate ``data/reviewed.yml`` from the labelled reviews; return (examples in it, new or relabelled).

    A text labelled twice takes its latest label. Texts that look like entity markup (``[x](type)``) are
    left out: the loader would read them as markup. Without labelled reviews the file is deleted (the
    loader refuses a file without examples).
    """
    path = reviewed_file(project)
    with _writing(project):
        labels = _labels(repo)
        before = _labels_in(path)
        _make_hold(path, REVIEWED_HEADER + _yaml(labels) if labels else None)
    added = sum(1 for text, intent in labels.items() if before.get(text) != intent)
    return len(labels), added


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


def _labels(repo: Repository) -> dict[str, str]:
    """text -> corrected intent of every labelled review, the latest label winning."""
    reviews: list[ReviewRecord] = []
    while True:
        page = repo.review_queue("labelled", limit=PAGE, offset=len(reviews))
        reviews += page
        if len(page) < PAGE:
            break
    labels: dict[str, str] = {}
    for review in sorted(reviews, key=lambda r: r.reviewed_at or r.created_at):
        text = " ".join(review.text.split())
        if text and review.corrected_intent and parse_inline(text)[0] == text:
            labels[text] = review.corrected_intent
    return labels


def _labels_in(path: Path) -> dict[str, str]:
    """What the file holds now, to count what changed; a missing or unreadable file holds nothing."""
    try:
        return {example.text: example.label for example in load_examples(path)}
    except KefuError:
        return {}


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
