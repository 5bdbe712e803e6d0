"""Split examples into training and validation sets with every label represented in both."""

import random

from kefu.data.examples import Example


def stratified_split(
    examples: list[Example], val_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Return ``(train, validation)``, drawing about ``val_fraction`` of each label for validation.

    A label with one example stays in training; any other label keeps at least one example in each
    part (when ``val_fraction`` > 0). The result depends only on ``examples``, ``val_fraction`` and
    ``seed``, and both parts keep the input order.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    by_label: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        by_label.setdefault(example.label, []).append(index)
    # a private generator, so neither global random state nor other callers can change the split
    rng = random.Random(seed)
    validation: set[int] = set()
    for indices in by_label.values():
        count = len(indices)
        if count < 2:
            continue
        n_val = round(count * val_fraction)
        if val_fraction > 0:
            n_val = max(n_val, 1)
        n_val = min(n_val, count - 1)
        shuffled = indices[:]
        rng.shuffle(shuffled)
        validation.update(shuffled[:n_val])
    train = [example for index, example in enumerate(examples) if index not in validation]
    val = [example for index, example in enumerate(examples) if index in validation]
    return train, val
