"""Word-level BIO tagging over sub-word tokens.

A tokenizer cuts "salerno" into pieces ("sal", "er", "no"); tagging every piece on its own lets the
pieces of one word disagree, and decoded spans then start or end inside words ("na salerno"). The entity
head therefore learns and predicts one tag per *word*, read at the word's first piece, and the pieces
after it follow their head. A word is a run of pieces joined without a gap inside letters or digits of a
spaced script; in Chinese and Japanese every piece stands alone (a piece there is already a word or a
character). Decoding is Viterbi over the per-word log-probabilities with BIO constraints (an ``I-x``
only after ``B-x`` or ``I-x``), so one wrong piece cannot split an entity in two.
"""

from collections.abc import Sequence

import numpy as np
import torch

from kefu.entities.annotations import UNSPACED, decode_tags, parse_tag, to_bio
from kefu.entities.spans import Entity

Offsets = Sequence[tuple[int, int]]


def _joins(left: str, right: str) -> bool:
    """True when two characters written side by side belong to one word of a spaced script."""
    return left.isalnum() and right.isalnum() and not UNSPACED.match(left) and not UNSPACED.match(right)


def words(text: str, offsets: Offsets) -> list[list[int]]:
    """Token indices grouped into words, in order; special tokens (empty offsets) and pieces that are
    only whitespace belong to none."""
    groups: list[list[int]] = []
    last_end = -1
    for index, (start, end) in enumerate(offsets):
        while start < end and text[start].isspace():  # sentencepiece pieces own the space before them
            start += 1
        if start >= end:
            continue
        if groups and start == last_end and _joins(text[start - 1], text[start]):
            groups[-1].append(index)
        else:
            groups.append([index])
        last_end = end
    return groups


def _word_spans(text: str, offsets: Offsets, groups: list[list[int]]) -> list[tuple[int, int]]:
    spans = []
    for group in groups:
        start, end = offsets[group[0]][0], offsets[group[-1]][1]
        while start < end and text[start].isspace():
            start += 1
        spans.append((start, end))
    return spans


def word_targets(text: str, offsets: Offsets, entities: Sequence[Entity], tag_id: dict[str, int], ignore: int) -> list[int]:
    """The gold tag id of each token: its word's BIO tag at the word's first piece, `ignore` elsewhere."""
    groups = words(text, offsets)
    targets = [ignore] * len(offsets)
    for group, tag in zip(groups, to_bio(entities, _word_spans(text, offsets, groups)), strict=True):
        targets[group[0]] = tag_id[tag]
    return targets


class BioDecoder:
    """Best BIO tag sequence under the constraint that ``I-x`` continues ``B-x`` or ``I-x``."""

    def __init__(self, tags: Sequence[str]):
        self.tags = list(tags)
        parsed = [parse_tag(t) for t in self.tags]
        n = len(parsed)
        # allowed[i, j]: tag j may follow tag i
        allowed = torch.ones(n, n, dtype=torch.bool)
        starts = torch.ones(n, dtype=torch.bool)
        for j, (prefix, kind) in enumerate(parsed):
            if prefix == "I":
                starts[j] = False
                allowed[:, j] = torch.tensor([k == kind and p in ("B", "I") for p, k in parsed])
        # numpy, not torch: the steps are a few dozen tiny operations per text, where torch's per-call
        # overhead (and its thread pool's, on a busy machine) costs far more than the arithmetic
        self.transition = np.where(allowed.numpy(), np.float32(0), np.float32("-inf"))
        self.start = np.where(starts.numpy(), np.float32(0), np.float32("-inf"))

    def best_path(self, logprobs: torch.Tensor | np.ndarray) -> list[int]:
        """Tag ids (one per row of `logprobs`, a (words, tags) array) of the best allowed sequence."""
        if len(logprobs) == 0:
            return []
        rows = np.asarray(logprobs, dtype=np.float32)
        score = rows[0] + self.start
        back = []
        for row in rows[1:]:
            candidates = score[:, None] + self.transition
            back.append(candidates.argmax(0))
            score = candidates.max(0) + row
        path = [int(score.argmax())]
        for arg in reversed(back):
            path.append(int(arg[path[-1]]))
        return path[::-1]

    def entities(self, text: str, offsets: Offsets, logprobs: torch.Tensor, source: str = "model") -> list[Entity]:
        """The entities in `text`, given each token's tag log-probabilities (tokens, tags)."""
        groups = words(text, offsets)
        if not groups:
            return []
        path = self.best_path(np.asarray(logprobs)[[group[0] for group in groups]])
        spans = _word_spans(text, offsets, groups)
        found = []
        for kind, first, last in decode_tags([self.tags[t] for t in path]):
            start, end = spans[first][0], spans[last][1]
            found.append(Entity(kind, text[start:end], start, end, source))
        return found
