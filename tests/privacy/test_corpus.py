"""The redaction corpus: realistic customer messages in Chinese and English, with personal data or with
look-alikes only. The issue's figures: recall >= 99% on the personal data, false positives on at most 1%
of the look-alike messages."""

import re
from collections import Counter
from pathlib import Path

import pytest

from kefu.privacy import Redactor
from kefu.privacy.scoring import read_corpus, score_corpus
from tests.privacy.checksums import id_check_character, luhn_check_digit

CORPUS = Path(__file__).parent / "corpus.jsonl"
TYPES = {"email", "phone", "id_number", "card", "ip"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return read_corpus(CORPUS)


def test_the_corpus_is_large_enough_in_both_languages(rows: list[dict]) -> None:
    mentions = Counter(mention["type"] for row in rows for mention in row["pii"])
    assert set(mentions) == TYPES and sum(mentions.values()) >= 150 and min(mentions.values()) >= 25
    lookalikes = [row for row in rows if not row["pii"]]
    assert len(lookalikes) >= 150
    for subset in (lookalikes, [row for row in rows if row["pii"]]):
        assert Counter(row["lang"] for row in subset).keys() == {"zh", "en"}


def test_every_labelled_id_and_card_number_really_is_valid(rows: list[dict]) -> None:
    for row in rows:
        for mention in row["pii"]:
            digits = re.sub(r"[ -]", "", mention["value"])
            if mention["type"] == "id_number":
                assert id_check_character(digits[:17]) == digits[17].upper(), row["text"]
            elif mention["type"] == "card":
                assert luhn_check_digit(digits[:-1]) == digits[-1], row["text"]


def test_recall_and_false_positives_meet_the_targets(rows: list[dict]) -> None:
    score = score_corpus(Redactor(), rows)
    for pii_type in TYPES:
        assert score.recall(pii_type) >= 0.99, (pii_type, score.missed)
    assert score.false_positive_rate <= 0.01, score.false_positives
