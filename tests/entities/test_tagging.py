"""Word-level tagging over sub-word pieces, and BIO-constrained decoding."""

import itertools
import math

import pytest
import torch

from kefu.entities import Entity
from kefu.entities.tagging import BioDecoder, word_targets, words

TAGS = ["O", "B-city", "I-city", "B-name", "I-name"]
TAG_ID = {t: i for i, t in enumerate(TAGS)}


def _offsets(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Character offsets of `pieces` found left to right in `text` ("" stands for a special token)."""
    spans, at = [], 0
    for piece in pieces:
        if not piece:
            spans.append((0, 0))
            continue
        start = text.index(piece, at)
        spans.append((start, start + len(piece)))
        at = start + len(piece)
    return spans


def test_pieces_of_one_word_group_together_and_specials_and_spaces_join_none():
    text = "fly to salerno now"
    offsets = _offsets(text, ["", "fly", " to", " sal", "er", "no", " ", "now", ""])
    assert words(text, offsets) == [[1], [2], [3, 4, 5], [7]]


def test_chinese_pieces_are_words_of_their_own_but_latin_runs_inside_chinese_join():
    text = "送到上海ab12吗"
    offsets = _offsets(text, ["送到", "上", "海", "ab", "12", "吗"])
    assert words(text, offsets) == [[0], [1], [2], [3, 4], [5]]


def test_punctuation_between_letters_splits_words():
    text = "2/7/2021"
    assert words(text, _offsets(text, ["2", "/", "7", "/", "2021"])) == [[0], [1], [2], [3], [4]]


def test_targets_sit_on_the_first_piece_of_each_word_only():
    text = "fly to salerno now"
    offsets = _offsets(text, ["", "fly", " to", " sal", "er", "no", "now", ""])
    gold = [Entity("city", "salerno", 7, 14, "annotation")]
    assert word_targets(text, offsets, gold, TAG_ID, -100) == [-100, 0, 0, 1, -100, -100, 0, -100]


def test_a_piece_half_inside_an_entity_tags_its_whole_word():
    text = "上海市"
    offsets = _offsets(text, ["上海市"])
    assert word_targets(text, offsets, [Entity("city", "上海", 0, 2, "annotation")], TAG_ID, -100) == [1]


def _brute_force(logprobs: torch.Tensor) -> list[int]:
    """The best allowed sequence by trying them all (tiny inputs only)."""

    def allowed(seq):
        prev = "O"
        for t in seq:
            tag = TAGS[t]
            if tag.startswith("I-") and prev[2:] != tag[2:]:
                return False
            prev = tag
        return True

    best, best_score = None, -math.inf
    for seq in itertools.product(range(len(TAGS)), repeat=len(logprobs)):
        if allowed(seq):
            score = sum(float(logprobs[i, t]) for i, t in enumerate(seq))
            if score > best_score:
                best, best_score = list(seq), score
    return best


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_finds_the_best_sequence_that_obeys_bio(seed):
    gen = torch.Generator().manual_seed(seed)
    logprobs = torch.log_softmax(torch.randn(4, len(TAGS), generator=gen) * 3, dim=-1)
    assert BioDecoder(TAGS).best_path(logprobs) == _brute_force(logprobs)


def test_an_inside_tag_never_opens_an_entity_and_pieces_follow_their_word():
    text = "to new york"
    offsets = _offsets(text, ["", "to", " new", " yo", "rk", ""])
    probs = torch.full((len(offsets), len(TAGS)), 1e-3)
    probs[1, TAG_ID["O"]] = 1
    probs[2, TAG_ID["I-city"]] = 1  # argmax alone would open the entity with I-
    probs[2, TAG_ID["B-city"]] = 0.6
    probs[3, TAG_ID["I-city"]] = 1
    probs[4, TAG_ID["O"]] = 1  # a continuation piece: its own scores are not read
    found = BioDecoder(TAGS).entities(text, offsets, probs.log())
    assert found == [Entity("city", "new york", 3, 11, "model")]
