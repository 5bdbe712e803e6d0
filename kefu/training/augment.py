"""Cheap text augmentation: word dropout, neighbour swaps and character noise.

Customers misspell and drop words; perturbing a share of the training texts each epoch teaches the model
not to hang its decision on any single token.
"""

import random

_CJK_START = 0x2E80


def units(text: str) -> list[str]:
    """Words for spaced scripts; single characters for Chinese/Japanese, which have no spaces (see
    `separator`)."""
    if any(ord(c) >= _CJK_START for c in text) and " " not in text.strip():
        return list(text)
    return text.split()


def separator(text: str) -> str:
    """What joins `units(text)` (changed or not) back into text as `text` writes them: a space, or nothing."""
    return "" if units(text) == list(text) else " "


def augment(text: str, rng: random.Random) -> str:
    """One random perturbation of `text`; never returns an empty string."""
    parts = units(text)
    if len(parts) < 2:
        return text
    kind = rng.randrange(3)
    if kind == 0:  # drop one unit
        del parts[rng.randrange(len(parts))]
    elif kind == 1:  # swap two neighbours
        i = rng.randrange(len(parts) - 1)
        parts[i], parts[i + 1] = parts[i + 1], parts[i]
    else:  # character noise inside one unit: delete or duplicate a character
        i = rng.randrange(len(parts))
        word = parts[i]
        j = rng.randrange(len(word))
        parts[i] = word[:j] + word[j + 1 :] if rng.random() < 0.5 and len(word) > 1 else word[:j] + word[j] + word[j:]
    return separator(text).join(parts)
