"""Okapi BM25 over passages in Chinese and English, with its own tokenizer.

Scoring (Lucene's variant, whose idf is never negative)::

    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    score(q, d) = sum over query tokens t of  idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))

The per-(term, passage) weights are precomputed at build time and kept as one postings list per term
(passage indices and weights as numpy arrays), so a query costs one scatter-add per query token: well
under a millisecond for 10k passages.
"""

import re
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import numpy as np

from kefu.text.normalize import normalize

# Chosen on the dev splits of benchmarks/bench_kb.py together with the fusion weight (see
# kefu.knowledge.hybrid), over k1 0.9..2.0 and b 0.5..1.0. Strong length normalisation (b 0.9-1.0) did
# best up to k1 1.5 and b 0.5 worst throughout: an FAQ answer is long because it is wordy more often than
# because it covers more, so its length should not buy it matches.
DEFAULT_K1, DEFAULT_B = 1.2, 1.0

# Han (incl. extension A and compatibility ideographs), kana and Hangul: runs of these go to jieba.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")

# Very common English function words. Their idf is already low, but a question is short and full of
# them ("how do I ..."), and they still push long passages up.
_STOP_WORDS = """a an and are as at be been but by can could do does did for from has have how i if in into is
it its me my of on or our so than that the their them then there these they this to was we were what when
where which who why will with would you your"""
ENGLISH_STOP_WORDS = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Tokenizer:
    """NFKC + lower-case, then jieba words for CJK runs and letter/digit words for the rest.

    ``cjk`` is ``"search"`` (``jieba.lcut_for_search``: words plus the shorter words inside long ones, so
    "银行卡" also matches "银行") or ``"words"`` (``jieba.lcut``). ``stop_words`` drops the English words
    above; ``stem`` strips a plural "s"/"es" (a deliberately tiny stemmer: "charges" -> "charge").
    Defaults chosen on the dev splits of benchmarks/bench_kb.py: "search" beat "words" on LCQMC (BM25
    recall@1 94.4 vs 93.8), stop words helped on bank_faqs (38.0 vs 36.1) and stemming hurt (36.1).
    """

    cjk: str = "search"
    stop_words: bool = True
    stem: bool = False

    def __post_init__(self) -> None:
        if self.cjk not in ("search", "words"):
            raise ValueError(f"cjk must be 'search' or 'words', not {self.cjk!r}")

    def __call__(self, text: str) -> list[str]:
        tokens: list[str] = []
        for cjk, latin in _TOKEN.findall(normalize(text)):
            if cjk:
                tokens.extend(_cut(cjk, self.cjk))
            elif not (self.stop_words and latin in ENGLISH_STOP_WORDS):
                tokens.append(_stem(latin) if self.stem else latin)
        return tokens


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(60)  # quiet: jieba logs its dictionary loading at INFO level
    jieba.initialize()
    return jieba


def _cut(run: str, mode: str) -> list[str]:
    jieba = _jieba()
    words = jieba.lcut_for_search(run) if mode == "search" else jieba.lcut(run)
    return [w for w in words if w.strip()]


class BM25:
    """An Okapi BM25 index; build with :meth:`fit`, score with :meth:`scores` or :meth:`search`."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        offsets: np.ndarray,
        doc_ids: np.ndarray,
        term_freqs: np.ndarray,
        doc_lengths: np.ndarray,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        """Use :meth:`fit` or :meth:`from_state`; this takes the postings in CSR form: the passages (and
        term frequencies) of term ``t`` are ``doc_ids[offsets[t]:offsets[t + 1]]``."""
        self.vocabulary, self.k1, self.b = vocabulary, k1, b
        self.tokenizer = tokenizer or Tokenizer()
        self.offsets, self.doc_ids = offsets.astype(np.int64), doc_ids.astype(np.int32)
        self.term_freqs, self.doc_lengths = term_freqs.astype(np.float32), doc_lengths.astype(np.float32)
        self.size = len(doc_lengths)
        df = np.diff(self.offsets).astype(np.float64)
        self.idf = np.log1p((self.size - df + 0.5) / (df + 0.5))
        avgdl = float(self.doc_lengths.mean()) if self.size and self.doc_lengths.sum() else 1.0
        # Precompute each posting's contribution so a query is a scatter-add of ready weights.
        norm = k1 * (1 - b + b * self.doc_lengths / avgdl)
        tf = self.term_freqs
        per_term_idf = np.repeat(self.idf, np.diff(self.offsets)).astype(np.float32)
        self.weights = per_term_idf * tf * (k1 + 1) / (tf + norm[self.doc_ids])

    @classmethod
    def fit(
        cls,
        texts: list[str],
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        tokenizer: Tokenizer | None = None,
    ) -> "BM25":
        """Index ``texts`` (passage ``i`` is ``texts[i]``)."""
        tokenizer = tokenizer or Tokenizer()
        vocabulary: dict[str, int] = {}
        postings: list[dict[int, int]] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for doc, text in enumerate(texts):
            tokens = tokenizer(text)
            lengths[doc] = len(tokens)
            for token in tokens:
                term = vocabulary.setdefault(token, len(vocabulary))
                if term == len(postings):
                    postings.append({})
                postings[term][doc] = postings[term].get(doc, 0) + 1
        offsets = np.zeros(len(postings) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in postings])
        doc_ids = np.fromiter((d for p in postings for d in p), dtype=np.int32, count=int(offsets[-1]))
        tfs = np.fromiter((n for p in postings for n in p.values()), dtype=np.float32, count=int(offsets[-1]))
        return cls(vocabulary, offsets, doc_ids, tfs, lengths, k1, b, tokenizer)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (float32, shape ``(size,)``; 0 = no shared token)."""
        out = np.zeros(self.size, dtype=np.float32)
        for token in self.tokenizer(query):
            term = self.vocabulary.get(token)
            if term is not None:
                start, end = self.offsets[term], self.offsets[term + 1]
                # a term occurs at most once in a postings list, so fancy-index += adds every posting
                out[self.doc_ids[start:end]] += self.weights[start:end]
        return out

    def search(self, query: str, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` best (passage index, score) pairs, best first; passages sharing no token are left out."""
        scores = self.scores(query)
        top = top_k(scores, k)
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What :meth:`from_state` needs: JSON-able settings and vocabulary, and the postings arrays."""
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        meta = {"k1": self.k1, "b": self.b, "tokenizer": asdict(self.tokenizer), "terms": terms}
        arrays = {
            "bm25_offsets": self.offsets,
            "bm25_doc_ids": self.doc_ids,
            "bm25_term_freqs": self.term_freqs,
            "bm25_doc_lengths": self.doc_lengths,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "BM25":
        vocabulary = {term: i for i, term in enumerate(meta["terms"])}
        return cls(
            vocabulary,
            arrays["bm25_offsets"],
            arrays["bm25_doc_ids"],
            arrays["bm25_term_freqs"],
            arrays["bm25_doc_lengths"],
            meta["k1"],
            meta["b"],
            Tokenizer(**meta["tokenizer"]),
        )


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties: lower index first, so results are stable)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]
