"""The steps `fit` is made of, each on its own: the row layout, tag padding, batching, augmentation, early
stopping and the epoch loop that pruning's recovery shares."""

import random

import pytest
import torch

from kefu.data import Example
from kefu.entities.spans import Entity
from kefu.training.augment import augment
from kefu.training.trainer import (
    _IGNORE,
    EarlyStopping,
    Rows,
    _pad_tags,
    length_buckets,
    train_epoch,
)


class _Teacher:
    """Uniform probabilities over whatever labels are asked for: enough to see where soft rows go."""

    unlabelled = ("u1", "u2")

    def soft_targets(self, texts, labels):
        return torch.full((len(texts), len(labels)), 1 / len(labels))


def test_rows_put_intents_then_unlabelled_then_sentiment_and_each_head_ignores_the_others():
    examples = [Example("hi", "greet"), Example("refund please", "refund"), Example("hello", "greet")]
    moods = [Example("great", "positive"), Example("awful", "negative")]
    rows = Rows.of(examples, moods, _Teacher())

    assert rows.texts == ["hi", "refund please", "hello", "u1", "u2", "great", "awful"]
    assert rows.labels == ["greet", "refund"] and rows.moods == ["negative", "positive"]
    assert rows.n_intent_rows == 5
    assert rows.targets.tolist() == [0, 1, 0, _IGNORE, _IGNORE, _IGNORE, _IGNORE]
    assert rows.mood_targets.tolist() == [_IGNORE] * 5 + [1, 0]
    assert rows.soft.shape == (5, 2)  # the examples and the unlabelled texts, not the reviews


def test_rows_without_teacher_or_sentiment():
    rows = Rows.of([Example("hi", "greet")], [], None)
    assert rows.texts == ["hi"] and rows.soft is None and rows.mood_targets.tolist() == [_IGNORE]


def test_pad_tags_aligns_gold_tags_ignores_unannotated_rows_and_blanks_augmented_ones():
    batch_ids = [[1, 5, 6, 2], [1, 7, 2], [1, 8, 9, 10, 2]]
    gold = _pad_tags([[_IGNORE, 1, 2, _IGNORE], None, [_IGNORE, 1, _IGNORE]], batch_ids)
    assert gold.tolist() == [
        [_IGNORE, 1, 2, _IGNORE, _IGNORE],  # as given, padded
        [_IGNORE] * 5,  # a sentiment example: no tags to learn
        [_IGNORE, 0, 0, 0, _IGNORE],  # augmentation changed its length: every real token "O"
    ]


def test_length_buckets_cover_every_row_once_in_batches_of_similar_length():
    lengths = list(range(1, 201))
    batches = length_buckets(list(range(200)), lengths, 10, random.Random(0))
    assert sorted(i for batch in batches for i in batch) == list(range(200))
    assert all(len(batch) <= 10 for batch in batches)
    # sorted within chunks of 50 batches: a batch's texts are close in length
    assert max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) < 200 / 2
    assert batches != length_buckets(list(range(200)), lengths, 10, random.Random(1))


@pytest.mark.parametrize("text", ["where is my order please", "我的快递到哪里了"])
def test_augment_is_reproducible_and_keeps_the_script_joined_as_it_was(text):
    first = [augment(text, random.Random(seed)) for seed in range(20)]
    assert first == [augment(text, random.Random(seed)) for seed in range(20)]
    assert any(variant != text for variant in first) and all(first)
    assert all((" " in variant) == (" " in text) for variant in first)


def test_annotated_examples_are_kept_as_rows_with_their_entities():
    example = Example("order A12345", "order_status", entities=(Entity("order_id", "A12345", 6, 12),))
    assert Rows.of([example], [], None).everything[0].entities


def test_early_stopping_keeps_the_best_weights_and_stops_after_patience():
    net = torch.nn.Linear(2, 1)
    net.frozen_keys = lambda: set()
    stopping = EarlyStopping(patience=2)
    with torch.no_grad():
        net.weight.fill_(1.0)
    stopping.update(0.5, net)
    with torch.no_grad():
        net.weight.fill_(2.0)
    stopping.update(0.4, net)
    assert not stopping.stop
    stopping.update(0.4, net)
    assert stopping.stop and stopping.best_score == 0.5
    stopping.restore_best(net)
    assert net.weight.detach().eq(1.0).all()


def test_train_epoch_steps_once_per_batch_and_reports_the_running_mean():
    class Steps:
        def __init__(self):
            self.losses = []

        def step(self, loss):
            self.losses.append(float(loss))

    net, opt, seen = torch.nn.Linear(1, 1), Steps(), []
    total = train_epoch(net, opt, [[0], [1, 2], [3]], lambda rows: torch.tensor(float(len(rows))), seen.append)
    assert opt.losses == [1.0, 2.0, 1.0] and total == 4.0
    assert seen == [1.0, 1.5, 4 / 3]
    assert not net.training  # left in eval mode, as prediction expects
