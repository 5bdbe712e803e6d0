"""Fusing the BM25 and the dense ranking into one.

Three methods, all over a candidate pool (the ``depth`` best passages of each retriever; passages that
share no token with the query are never BM25 candidates):

* ``softmax``: ``score = alpha * softmax(z(dense)) + (1 - alpha) * softmax(z(bm25))`` where ``z`` turns a
  retriever's scores into z-scores over the pool (subtract the mean, divide by the standard deviation).
  Each retriever becomes a probability distribution over the candidates, and the mixture adapts per
  query: a retriever whose best candidate stands far above the rest (in its own standard deviations)
  puts most of its mass there and carries the decision, while one that cannot tell its candidates apart
  spreads its mass thin and barely moves the ranking. The weight is thus set by each retriever's own
  score distribution, in units that mean the same for BM25 and cosine scores, in any language.
* ``rrf``: weighted reciprocal-rank fusion,
  ``score = (1 - alpha) / (rrf_k + bm25_rank) + alpha / (rrf_k + dense_rank)`` (ranks from 1; a retriever
  that did not return a passage adds nothing). It uses ranks only, so it needs no score calibration.
* ``convex``: ``score = alpha * dense' + (1 - alpha) * bm25'`` where ``'`` is min-max normalisation over
  the pool. It keeps how *far* apart the scores are, which RRF throws away.

``bm25`` and ``dense`` rank by one retriever alone, for comparison.

:data:`DEFAULT_FUSION` is the choice made on the dev splits (20% of the queries, seed 0) of
benchmarks/bench_kb.py, one setting for both languages, by the mean dev recall@1 of bank_faqs (English)
and LCQMC (Chinese). First a grid of softmax and convex (alpha 0.05..0.95, depth 20/50/100) and RRF (alpha
0.2..0.8, rrf_k 1..60, depth 50/100) with BM25 at the textbook k1 1.5, b 0.75: softmax came first (bank_faqs
50.6, LCQMC 95.1 at alpha 0.65), ahead of convex (49.4, 95.3) and RRF (48.3, 92.9); dense alone has 48.3 and
91.2. Then BM25's k1 and b together with alpha, for softmax at depth 50 (see :mod:`kefu.knowledge.bm25`): k1
1.2, b 1.0, alpha 0.7 (51.0, 95.3), and anywhere in alpha 0.55-0.75 within a point of that on both sets.
Also tried on the same dev splits, outside the benchmark's grid, and no better than softmax: a linear mix
of z-scores, a dense weight set per query from each retriever's gap between its first and second
candidate, CombMNZ, and softmax with each retriever's spread taken over its own top list rather than the
pool; BM25 over its best attainable score and log BM25 were no better than convex in earlier runs.
Details: benchmarks/results/kb.json.
"""

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kefu.knowledge.bm25 import top_k

METHODS = ("softmax", "convex", "rrf", "bm25", "dense")


@dataclass(frozen=True)
class Fusion:
    """How to combine the two retrievers; ``alpha`` is the weight of the dense side (0..1)."""

    method: str = "softmax"
    alpha: float = 0.7
    rrf_k: float = 60.0
    depth: int = 50

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"fusion method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], not {self.alpha}")
        if self.rrf_k < 0 or self.depth < 1:
            raise ValueError("rrf_k must be >= 0 and depth >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_FUSION = Fusion()  # softmax, alpha 0.7, depth 50


def fuse(bm25: np.ndarray, dense: np.ndarray, fusion: Fusion, k: int) -> list[tuple[int, float]]:
    """Rank passages from their BM25 and dense scores (one entry per passage); ``k`` best (index, score).

    For ``bm25`` and ``dense`` the score is that retriever's own; passages BM25 scored 0 (no shared token)
    are never BM25 candidates.
    """
    if fusion.method == "dense":
        top = top_k(dense, k)
        return [(int(i), float(dense[i])) for i in top]
    bm25_top = [i for i in top_k(bm25, max(k, fusion.depth)) if bm25[i] > 0]
    if fusion.method == "bm25":
        return [(int(i), float(bm25[i])) for i in bm25_top[:k]]
    dense_top = top_k(dense, max(k, fusion.depth))
    pool = np.unique(np.concatenate([np.asarray(bm25_top, dtype=np.int64), dense_top]))
    if fusion.method == "rrf":
        fused = rrf_scores(pool, bm25_top, dense_top, fusion.alpha, fusion.rrf_k)
    elif fusion.method == "softmax":
        fused = softmax_scores(bm25[pool], dense[pool], fusion.alpha)
    else:
        fused = convex_scores(bm25[pool], dense[pool], fusion.alpha)
    order = top_k(fused, k)
    return [(int(pool[i]), float(fused[i])) for i in order]


def rrf_scores(
    pool: np.ndarray, bm25_ranked: Any, dense_ranked: Any, alpha: float, rrf_k: float
) -> np.ndarray:
    """Weighted reciprocal-rank fusion score of each passage in ``pool`` (ranks count from 1)."""
    position = {int(p): i for i, p in enumerate(pool)}
    fused = np.zeros(len(pool), dtype=np.float64)
    for weight, ranked in ((1.0 - alpha, bm25_ranked), (alpha, dense_ranked)):
        for rank, passage in enumerate(ranked, start=1):
            fused[position[int(passage)]] += weight / (rrf_k + rank)
    return fused


def convex_scores(bm25: np.ndarray, dense: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha * minmax(dense) + (1 - alpha) * minmax(bm25)`` over the given candidates."""
    return alpha * minmax(dense) + (1.0 - alpha) * minmax(bm25)


def softmax_scores(bm25: np.ndarray, dense: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha * zsoftmax(dense) + (1 - alpha) * zsoftmax(bm25)`` over the given candidates."""
    return alpha * zsoftmax(dense) + (1.0 - alpha) * zsoftmax(bm25)


def zsoftmax(scores: np.ndarray) -> np.ndarray:
    """Softmax of the z-scores: a distribution that is peaked when one score stands out by several standard
    deviations and flat when the scores are bunched (all equal -> all 0, as in :func:`minmax`)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    spread = scores.std()
    if spread <= 1e-12:
        return np.zeros_like(scores)
    # the mean cancels in a softmax; shifting by the maximum instead keeps exp() from overflowing
    weights = np.exp((scores - scores.max()) / spread)
    return weights / weights.sum()


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (all equal -> all 0, so a retriever with nothing to say does not tip the balance)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    low, high = scores.min(), scores.max()
    if high - low <= 1e-12:
        return np.zeros_like(scores)
    return (scores - low) / (high - low)
