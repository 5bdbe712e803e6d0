"""Erasure and retention reach data/reviewed.yml: no text of a deleted conversation is left in it."""

from datetime import timedelta
from pathlib import Path

import pytest

from kefu.project import load_project
from kefu.project.training import reviewed_file
from kefu.runtime import Erasure, export_reviewed
from kefu.store import Repository
from kefu.store.columns import utcnow
from tests.support.project import project_copy
from tests.support.store import CHEAP_HASHER, FakeClock, leaks

A_TEXT, B_TEXT = "can I pay with alipay points", "do you sell gift cards"


@pytest.fixture()
def project(tiny_project: Path, tmp_path: Path) -> Path:
    return project_copy(tiny_project, tmp_path / "shop")


def _reviewed(repo: Repository, customer_id: str, text: str) -> str:
    """A conversation of the customer whose turn ``text`` was reviewed and labelled; its session id."""
    session = repo.get_or_create_conversation(None, customer_id=customer_id).session_id
    turn = repo.add_turn(session, "customer", text, intent="faq", confidence=0.3, review="low_confidence")
    [review] = [r for r in repo.review_queue("pending") if r.turn_id == turn.id]
    repo.label_review(review.id, "out_of_scope", None)
    return session


def _file_text(project: Path) -> str:
    path = reviewed_file(load_project(project))
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@pytest.mark.parametrize("how", ["erase_customer", "delete_conversation", "purge_older_than"])
def test_erasing_a_customer_leaves_their_text_in_neither_the_database_nor_the_file(
    how: str, project: Path, repo: Repository
) -> None:
    # customer A wrote 40 days ago, so a 30-day purge takes A and leaves B
    past = Repository(repo.store, password_hasher=CHEAP_HASHER, clock=FakeClock(utcnow() - timedelta(days=40)))
    a_session = _reviewed(past, "cust-a", A_TEXT)
    _reviewed(repo, "cust-b", B_TEXT)
    assert export_reviewed(repo, load_project(project)) == (2, 2)
    assert A_TEXT in _file_text(project) and B_TEXT in _file_text(project)

    erasure = Erasure(repo, load_project(project))
    argument = {"erase_customer": "cust-a", "delete_conversation": a_session, "purge_older_than": 30}[how]
    assert getattr(erasure, how)(argument) in (1, True)

    assert leaks(repo.store, [A_TEXT]) == [] and A_TEXT not in _file_text(project)
    assert leaks(repo.store, [B_TEXT]) != [] and B_TEXT in _file_text(project)


def test_the_file_goes_with_the_last_labelled_review_and_hand_edits_do_not_survive(
    project: Path, repo: Repository
) -> None:
    _reviewed(repo, "cust-a", A_TEXT)
    export_reviewed(repo, load_project(project))
    path = reviewed_file(load_project(project))
    # a text added by hand to the derived file is not kept: the file only ever mirrors the database
    path.write_text(path.read_text(encoding="utf-8") + "- intent: greet\n  examples:\n  - hiya\n", encoding="utf-8")
    assert export_reviewed(repo, load_project(project))[0] == 1 and "hiya" not in _file_text(project)
    assert Erasure(repo, load_project(project)).erase_customer("cust-a") == 1
    assert not path.exists()
