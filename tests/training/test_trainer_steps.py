"""The steps `fit` is made of, each on its own: the row layout, the epoch's rows, gold tags and their padding,
batching, augmentation, early stopping and the epoch loop that pruning's recovery shares."""

import random

import pytest
import torch

from kefu.data import Example
from kefu.entities.spans import Entity
from kefu.nlu.inputs import InputEncoder
from kefu.text.tokenizer import train_tokenizer
from kefu.training.augment import augment, separator, units
from kefu.training.trainer import (
    _IGNORE,
    EarlyStopping,
    Rows,
    _epoch_rows,
    _pad_tags,
    _tag_names,
    _tag_targets,
    augmented,
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


def test_an_epoch_takes_every_intent_row_and_at_most_as_many_sentiment_rows_drawn_afresh():
    rng = random.Random(0)
    assert _epoch_rows(3, 2, rng) == [0, 1, 2, 3, 4]  # fewer reviews than examples: all of them
    epochs = [_epoch_rows(3, 10, rng) for _ in range(5)]
    for rows in epochs:
        assert rows[:3] == [0, 1, 2]
        assert len(set(rows[3:])) == 3 and set(rows[3:]) <= set(range(3, 13))
    assert len({tuple(rows) for rows in epochs}) > 1


def test_tag_names_are_bio_over_the_annotated_types_and_none_without_annotations():
    annotated = [
        Example("order A12345 to Shanghai", "order", entities=(Entity("order_id", "A12345", 6, 12),)),
        Example("ship to 上海", "ship", entities=(Entity("city", "上海", 8, 10),)),
    ]
    assert _tag_names(annotated) == ["O", "B-city", "I-city", "B-order_id", "I-order_id"]
    assert _tag_names([Example("hi", "greet")]) == []  # the entity head is switched off


def test_gold_tags_sit_at_each_words_first_piece_and_the_loss_ignores_every_other_token():
    examples = [
        Example("track order A12345 please", "track", entities=(Entity("order_id", "A12345", 12, 18),)),
        Example("订单在上海", "where", entities=(Entity("city", "上海", 3, 5),)),
        Example("where is it", "where"),
    ]
    tags = _tag_names(examples)
    texts = [e.text for e in examples]
    inputs = InputEncoder(train_tokenizer(texts, vocab_size=100), None, 64)
    gold = _tag_targets(examples, inputs, tags)
    offsets = inputs.token_offsets(texts)
    # the tiny vocabulary cuts words into several pieces: only the first carries the tag
    tagged = [{span[0]: tags[t] for span, t in zip(o, g, strict=True) if t != _IGNORE} for o, g in zip(offsets, gold)]
    assert tagged == [
        {0: "O", 6: "O", 12: "B-order_id", 19: "O"},
        {0: "O", 1: "O", 2: "O", 3: "B-city", 4: "I-city"},  # a Chinese character is a word
        {0: "O", 6: "O", 9: "O"},
    ]
    assert all(len(g) == len(o) and g[0] == g[-1] == _IGNORE for g, o in zip(gold, offsets))  # [CLS], [SEP]
    assert sum(t != _IGNORE for t in gold[0]) < len(gold[0]) - 2  # pieces after the first are ignored


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


@pytest.mark.parametrize("text", ["where is my order please", "我的快递到哪里了"])
def test_augment_drops_one_unit_swaps_two_neighbours_or_adds_or_removes_one_character(text):
    parts, join = units(text), separator(text).join

    def with_part(i: int, part: str) -> str:
        return join(parts[:i] + [part] + parts[i + 1 :])

    dropped = {join(parts[:i] + parts[i + 1 :]) for i in range(len(parts))}
    swapped = {join(parts[:i] + [parts[i + 1], parts[i]] + parts[i + 2 :]) for i in range(len(parts) - 1)}
    noisy = {with_part(i, w[:j] + w[j] + w[j:]) for i, w in enumerate(parts) for j in range(len(w))}
    # a one-character unit (a Chinese character) is never deleted: that would drop the unit
    noisy |= {with_part(i, w[:j] + w[j + 1 :]) for i, w in enumerate(parts) for j in range(len(w)) if len(w) > 1}
    variants = {augment(text, random.Random(seed)) for seed in range(50)}
    assert variants <= dropped | swapped | noisy
    assert variants & dropped and variants & swapped and variants & noisy
    assert augment("hi", random.Random(0)) == "hi"  # one word: nothing to drop or swap


def test_augmented_perturbs_at_the_rate_but_never_an_annotated_example():
    plain = [Example(f"where is my order number {n}", "order_status") for n in range(40)]
    annotated = Example("track order A12345 please", "track", entities=(Entity("order_id", "A12345", 12, 18),))
    rows = [*plain, annotated] * 5
    assert augmented(rows, 0.0, random.Random(0)) == [e.text for e in rows]
    everything = augmented(rows, 1.0, random.Random(0))
    assert all(text != e.text for text, e in zip(everything, rows) if not e.entities)
    assert [text for text, e in zip(everything, rows) if e.entities] == [annotated.text] * 5
    some = augmented(rows, 0.3, random.Random(0))
    changed = sum(text != e.text for text, e in zip(some, rows))
    assert 0.15 * len(plain) * 5 < changed < 0.45 * len(plain) * 5
    assert some == augmented(rows, 0.3, random.Random(0))  # a seeded run perturbs the same texts again


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
