import itertools
import random

import pytest

from kefu.training.augment import augment
from kefu.training.schedules import lr_factor


@pytest.mark.parametrize("schedule", ["cosine", "linear", "exponential"])
def test_warmup_then_decay(schedule):
    f = lr_factor(schedule, total_steps=100, warmup_steps=10)
    assert f(0) == pytest.approx(0.1)
    assert f(9) == pytest.approx(1.0)
    values = [f(s) for s in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert values[-1] <= 0.01 + 1e-9


def test_augment_changes_text_but_keeps_it_nonempty():
    rng = random.Random(0)
    outs = {augment("where is my order today", rng) for _ in range(30)}
    assert len(outs) > 3 and all(outs)
    assert any(augment("我要退款了", rng) != "我要退款了" for _ in range(10))
    assert augment("hi", rng) == "hi"
