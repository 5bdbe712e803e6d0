"""Turns texts into padded model inputs: one place, so training and prediction cannot drift apart."""

from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from kefu.nlu.network import Batch
from kefu.text.ngrams import NgramFeaturizer
from kefu.text.script import simplified

_EMPTY = torch.zeros(0, dtype=torch.long)


@dataclass
class InputEncoder:
    tokenizer: Tokenizer
    ngrams: NgramFeaturizer | None
    max_len: int
    pad_id: int = 0
    prefix: str = ""  # e5 was trained with "query: " before short texts

    def _encode(self, texts: list[str]) -> list:
        return self.tokenizer.encode_batch([self.prefix + simplified(t) for t in texts])

    def encode(self, texts: list[str]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        """Token ids and each token's character span in its text (special tokens and the prefix: (0, 0))."""
        n = len(self.prefix)
        encodings = self._encode(texts)
        ids = [enc.ids[: self.max_len] for enc in encodings]
        offsets = [
            [(max(s - n, 0), e - n) if e > n else (0, 0) for s, e in enc.offsets[: self.max_len]]
            for enc in encodings
        ]
        return ids, offsets

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [enc.ids[: self.max_len] for enc in self._encode(texts)]

    def token_offsets(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return self.encode(texts)[1]

    def batch(self, texts: list[str], ids: list[list[int]] | None = None) -> Batch:
        ids = self.token_ids(texts) if ids is None else ids
        width = max(len(s) for s in ids)
        padded = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        keep = torch.zeros(len(ids), width, dtype=torch.bool)
        for row, seq in enumerate(ids):
            padded[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            keep[row, : len(seq)] = True
        if self.ngrams is None:
            idx, off, w = _EMPTY, _EMPTY, torch.zeros(0)
        else:
            idx, off, w = self.ngrams.batch(texts)
        return Batch(ids=padded, keep=keep, ngram_idx=idx, ngram_off=off, ngram_w=w)
