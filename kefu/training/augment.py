"""Cheap text augmentation: word dropout, neighbour swaps and character noise.

Customers misspell and drop words; perturbing a share of the training texts each epoch teaches the model
not to hang its decision on any single token.
"""

import random

_CJK_START = 0x2E80


def _units(text: str) -> list[str]:
    """Words for spaced scripts; single characters for Chinese/Japanese, which have no spaces."""
    if any(ord(c) >= _CJK_START for c in text) and " " not in text.strip():
        return list(text)
    return text.split()


def augment(text: str, rng: random.Random) -> str:
    """One random perturbation of `text`; never returns an empty string."""
    units = _units(text)
    joiner = "" if units == list(text) else " "
    if len(units) < 2:
        return text
    kind = rng.randrange(3)
    if kind == 0:  # drop one unit
        del units[rng.randrange(len(units))]
    elif kind == 1:  # swap two neighbours
        i = rng.randrange(len(units) - 1)
        units[i], units[i + 1] = units[i + 1], units[i]
    else:  # character noise inside one unit: delete or duplicate a character
        i = rng.randrange(len(units))
        word = units[i]
        j = rng.randrange(len(word))
        units[i] = word[:j] + word[j + 1 :] if rng.random() < 0.5 and len(word) > 1 else word[:j] + word[j] + word[j:]
    return joiner.join(units)
