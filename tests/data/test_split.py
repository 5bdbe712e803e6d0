"""Tests for stratified_split(): determinism, stratification and the sizes it promises."""

import random
from collections import Counter

import pytest

from kefu.data import Example, stratified_split


def make(counts: dict[str, int]) -> list[Example]:
    return [
        Example(f"{label} {i}", label, "data.csv", line)
        for line, (label, i) in enumerate(
            ((label, i) for label, count in counts.items() for i in range(count)), start=2
        )
    ]


def test_same_seed_same_split():
    examples = make({"a": 30, "b": 20, "c": 5})
    assert stratified_split(examples, 0.2, seed=7) == stratified_split(examples, 0.2, seed=7)


def test_split_ignores_global_random_state():
    examples = make({"a": 30, "b": 20})
    random.seed(1)
    first = stratified_split(examples, 0.2, seed=3)
    random.seed(2)
    random.random()
    assert stratified_split(examples, 0.2, seed=3) == first


def test_different_seeds_give_different_splits():
    examples = make({"a": 30, "b": 20})
    _, val_0 = stratified_split(examples, 0.2, seed=0)
    _, val_1 = stratified_split(examples, 0.2, seed=1)
    assert set(val_0) != set(val_1)


def test_split_is_a_partition_in_input_order():
    examples = make({"a": 12, "b": 9, "c": 1})
    train, val = stratified_split(examples, 0.25, seed=0)
    assert not set(train) & set(val)
    assert sorted(train + val, key=examples.index) == examples
    assert train == [example for example in examples if example in set(train)]
    assert val == [example for example in examples if example in set(val)]


def test_every_label_with_two_examples_is_in_both_parts():
    examples = make({"a": 40, "b": 10, "c": 2, "d": 3, "e": 1})
    train, val = stratified_split(examples, 0.1, seed=5)
    train_counts, val_counts = Counter(e.label for e in train), Counter(e.label for e in val)
    assert val_counts == {"a": 4, "b": 1, "c": 1, "d": 1}
    assert train_counts == {"a": 36, "b": 9, "c": 1, "d": 2, "e": 1}


def test_large_fraction_still_leaves_one_example_in_training():
    train, val = stratified_split(make({"a": 4, "b": 2}), 0.9, seed=0)
    assert Counter(e.label for e in train) == {"a": 1, "b": 1}
    assert Counter(e.label for e in val) == {"a": 3, "b": 1}


def test_zero_fraction_keeps_everything_in_training():
    examples = make({"a": 5, "b": 5})
    assert stratified_split(examples, 0.0) == (examples, [])


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_fraction_out_of_range(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_split(make({"a": 3, "b": 3}), fraction)
