"""Sparse word and character n-gram features, fed to the model beside its tokens (as Rasa's DIET does).

On a few thousand short questions a from-scratch Transformer has seen too little text to learn every
spelling variant; TF-IDF n-grams carry exactly that surface evidence, and the encoder adds word order and
context on top. The vocabulary and IDF weights are plain JSON, so an artifact stays pickle-free.
"""

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import torch

from kefu.text.normalize import normalize, normalize_with_origins

# CJK characters are words of their own (no spaces to split on); elsewhere words are letter/digit runs.
WORD = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\W_]+")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def _windows(length: int, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """(start, end) of every run of lo..hi consecutive items out of `length`, shorter runs first.

    One enumeration for the grams and for where they come from (`NgramFeaturizer.spans`), so the two
    always line up; cached because texts of the same length share it (it keeps featurising fast).
    """
    return tuple((i, i + n) for n in range(lo, hi + 1) for i in range(length - n + 1))


def _word_ngrams(words: list[str], lo: int, hi: int) -> list[str]:
    return ["w:" + " ".join(words[a:b]) for a, b in _windows(len(words), lo, hi)]


def _char_ngrams(padded: str, lo: int, hi: int) -> list[str]:
    return ["c:" + padded[a:b] for a, b in _windows(len(padded), lo, hi)]


def _padded(folded: str) -> str:
    """The text character n-grams are taken from: whitespace runs as one space, a space at either end."""
    return f" {_SPACES.sub(' ', folded)} "


@dataclass
class NgramFeaturizer:
    """TF-IDF over word 1-2-grams and character 2-5-grams, each block L2-normalised."""

    word_range: tuple[int, int] = (1, 2)
    char_range: tuple[int, int] = (2, 5)
    min_df: int = 2
    max_features: int = 100_000
    vocab: dict[str, int] = field(default_factory=dict)
    idf: list[float] = field(default_factory=list)

    def grams(self, text: str) -> list[str]:
        folded = normalize(text)
        words = WORD.findall(folded)
        return _word_ngrams(words, *self.word_range) + _char_ngrams(_padded(folded), *self.char_range)

    def spans(self, text: str) -> dict[int, list[tuple[int, int]]]:
        """Where each known feature of `text` comes from: the (start, end) in `text` of its every occurrence.

        Explanations use it to credit a feature to the words it was built from.
        """
        folded, origin = normalize_with_origins(text)
        found = list(WORD.finditer(folded))
        words = [(origin[m.start()], origin[m.end() - 1] + 1) for m in found]
        # padded[i] -> index in `text`; the pad spaces and collapsed whitespace come from no word: None
        chars: list[int | None] = [None]
        pos = 0
        for m in _SPACES.finditer(folded):
            chars += origin[pos : m.start()] + [None]
            pos = m.end()
        chars += origin[pos:] + [None]
        located = [(words[a][0], words[b - 1][1]) for a, b in _windows(len(words), *self.word_range)]
        for a, b in _windows(len(chars), *self.char_range):
            covered = [i for i in chars[a:b] if i is not None]
            located.append((covered[0], covered[-1] + 1) if covered else None)  # None: an empty text's pads
        grams = _word_ngrams([m.group() for m in found], *self.word_range) + _char_ngrams(
            _padded(folded), *self.char_range
        )
        out: dict[int, list[tuple[int, int]]] = {}
        for gram, span in zip(grams, located, strict=True):
            if span is not None and gram in self.vocab:
                out.setdefault(self.vocab[gram], []).append(span)
        return out

    def fit(self, texts: list[str]) -> "NgramFeaturizer":
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(self.grams(text)))
        kept = [g for g, c in df.most_common(self.max_features) if c >= self.min_df]
        kept.sort()  # a stable index order, independent of Counter tie-breaking
        self.vocab = {g: i for i, g in enumerate(kept)}
        n = len(texts)
        self.idf = [math.log((1 + n) / (1 + df[g])) + 1.0 for g in kept]
        return self

    @property
    def size(self) -> int:
        return len(self.vocab)

    def features(self, text: str) -> tuple[list[int], list[float]]:
        """Indices and weights of one text's non-zero features."""
        counts = Counter(g for g in self.grams(text) if g in self.vocab)
        blocks: dict[str, list[tuple[int, float]]] = {"w": [], "c": []}
        for gram, tf in counts.items():
            i = self.vocab[gram]
            blocks[gram[0]].append((i, (1.0 + math.log(tf)) * self.idf[i]))
        indices: list[int] = []
        weights: list[float] = []
        present = [block for block in blocks.values() if block]
        for block in present:
            norm = math.sqrt(sum(w * w for _, w in block))
            # 1/sqrt(2) per block keeps the whole vector at unit length when both blocks are present.
            scale = 1.0 / (norm * math.sqrt(len(present)))
            indices.extend(i for i, _ in block)
            weights.extend(w * scale for _, w in block)
        return indices, weights

    def batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(indices, offsets, weights) in the layout `nn.EmbeddingBag` takes."""
        indices: list[int] = []
        weights: list[float] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(indices))
            i, w = self.features(text)
            indices.extend(i)
            weights.extend(w)
        return (
            torch.tensor(indices, dtype=torch.long),
            torch.tensor(offsets, dtype=torch.long),
            torch.tensor(weights, dtype=torch.float32),
        )

    def to_dict(self) -> dict:
        return {
            "word_range": list(self.word_range),
            "char_range": list(self.char_range),
            "min_df": self.min_df,
            "max_features": self.max_features,
            "vocab": sorted(self.vocab, key=self.vocab.__getitem__),
            "idf": self.idf,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "NgramFeaturizer":
        vocab = data["vocab"]
        if len(vocab) != len(data["idf"]):
            raise ValueError(f"n-gram vocabulary has {len(vocab)} entries but {len(data['idf'])} IDF weights")
        return cls(
            word_range=tuple(data["word_range"]),
            char_range=tuple(data["char_range"]),
            min_df=data["min_df"],
            max_features=data["max_features"],
            vocab={g: i for i, g in enumerate(vocab)},
            idf=[float(x) for x in data["idf"]],
        )
