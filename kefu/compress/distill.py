"""Distillation: a small, fast student trained from a fine-tuned teacher's soft labels, on the labelled
data plus unlabelled text (see `kefu.training.teacher` for the loss).

The usual pair: an e5-small teacher (accurate, ~40 ms a message in PyTorch) and a from-scratch student
(a few ms). The student keeps its own tokenizer and n-gram features, learned from the labelled and the
unlabelled texts alike.

Unlabelled text from the same domain is what a student learns most from, and there is rarely enough of
it: `variants` makes more from the labelled texts themselves, each a training text with a word replaced
by one from another text, dropped, or cut off. The teacher labels them like any unlabelled text, so the
student sees where the teacher's boundary between two intents runs, not only the texts far from it
(as in Tang et al. 2019, "Distilling task-specific knowledge from BERT into simple neural networks").
"""

import random
from collections.abc import Callable

from kefu.data import Example
from kefu.errors import ConfigError
from kefu.nlu.model import Model
from kefu.nlu.train_config import TrainConfig
from kefu.training.augment import separator, units
from kefu.training.teacher import Teacher
from kefu.training.trainer import fit


def distill(
    teacher: Model,
    examples: list[Example],
    unlabelled: list[str],
    config: TrainConfig | None = None,
    val_examples: list[Example] | None = None,
    temperature: float = 2.0,
    weight: float = 1.0,
    copies: int = 0,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> Model:
    """Train a student with `config` (default: the from-scratch encoder's defaults) on `examples` and on
    `teacher`'s probabilities for them, for `unlabelled` texts and for `copies` variants of each example's
    text (see `variants`); early stopping on `val_examples`."""
    cfg = config or TrainConfig.for_encoder("scratch")
    unlabelled = list(unlabelled)
    made = variants([e.text for e in examples], copies, cfg.seed)
    coach = Teacher(teacher, unlabelled + made, temperature, weight)
    student = fit(examples, cfg, val_examples=val_examples, progress=progress, on_epoch=on_epoch, teacher=coach)
    student.metrics["distillation"] = {
        "teacher_encoder": teacher.train_config.encoder,
        "n_unlabelled": len(unlabelled),
        "n_variants": len(made),
        "temperature": temperature,
        "weight": weight,
    }
    return student


def variants(texts: list[str], copies: int, seed: int = 0) -> list[str]:
    """`copies` variants of each text, new ones only (no text of `texts`, no repeats), in a fixed order
    for a given `seed`. A variant replaces one word (a character, in Chinese) by one from another text,
    drops one, or keeps only the first or last two thirds; a text of one word has none."""
    if copies < 0:
        raise ConfigError(f"copies must be >= 0, not {copies}")
    rng = random.Random(seed)
    split = [units(text) for text in texts]
    # a word replaces a word, a character a character (of a text written without spaces)
    joins = [separator(text) for text in texts]
    vocabulary = {
        join: sorted({unit for parts, j in zip(split, joins, strict=True) if j == join for unit in parts})
        for join in set(joins)
    }
    seen, made = set(texts), []
    for parts, join in zip(split, joins, strict=True):
        if len(parts) < 2:
            continue
        for _ in range(copies):
            variant = join.join(_changed(parts, vocabulary[join], rng))
            if variant not in seen:
                seen.add(variant)
                made.append(variant)
    return made


def _changed(parts: list[str], vocabulary: list[str], rng: random.Random) -> list[str]:
    parts, kind, i = list(parts), rng.randrange(4), rng.randrange(len(parts))
    if kind == 0:
        parts[i] = rng.choice(vocabulary)
    elif kind == 1:
        del parts[i]
    else:
        keep = max(1, round(len(parts) * 2 / 3))
        parts = parts[:keep] if kind == 2 else parts[-keep:]
    return parts

