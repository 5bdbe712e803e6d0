import numpy as np
import pytest

from kefu.knowledge.hybrid import Fusion, convex_scores, fuse, minmax, rrf_scores


def test_minmax_scales_to_unit_range_and_flat_scores_to_zero() -> None:
    assert minmax(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax(np.array([0.7, 0.7])).tolist() == [0.0, 0.0]


def test_convex_combination() -> None:
    bm25, dense = np.array([0.0, 10.0, 5.0]), np.array([0.9, 0.7, 0.8])
    # dense' = [1, 0, .5], bm25' = [0, 1, .5]
    assert np.allclose(convex_scores(bm25, dense, 0.25), [0.25, 0.75, 0.5])


def test_reciprocal_rank_fusion() -> None:
    pool = np.array([3, 5, 8])
    scores = rrf_scores(pool, [5, 3], [8, 5, 3], alpha=0.5, rrf_k=60)
    expected = [0.5 / 62 + 0.5 / 63, 0.5 / 61 + 0.5 / 62, 0.5 / 61]
    assert np.allclose(scores, expected)


def test_fuse_methods() -> None:
    bm25 = np.array([0.0, 3.0, 1.0, 0.0])
    dense = np.array([0.95, 0.80, 0.85, 0.10])
    assert fuse(bm25, dense, Fusion("bm25"), 4) == [(1, 3.0), (2, 1.0)]  # no-shared-token passages left out
    assert [i for i, _ in fuse(bm25, dense, Fusion("dense"), 2)] == [0, 2]
    # dense' = [1, .82, .88, 0]; bm25' = [0, 1, .33, 0]: alpha decides between passages 0 and 1
    assert fuse(bm25, dense, Fusion("convex", alpha=0.9), 1)[0][0] == 0
    assert fuse(bm25, dense, Fusion("convex", alpha=0.3), 1)[0][0] == 1
    # passage 2 is second in both rankings, so RRF with a small k puts it ahead of two single firsts
    ranked = fuse(bm25, dense, Fusion("rrf", alpha=0.5, rrf_k=1), 4)
    assert [i for i, _ in ranked][:2] in ([1, 2], [2, 1], [0, 2], [2, 0])
    assert ranked[0][1] >= ranked[1][1] >= ranked[2][1]


def test_depth_limits_the_candidates() -> None:
    bm25 = np.array([5.0, 0.0, 0.0, 0.0])
    dense = np.array([0.1, 0.9, 0.8, 0.7])
    # BM25 offers only passage 0 (the others share no token), dense its best two: 3 never takes part
    assert fuse(bm25, dense, Fusion("rrf", alpha=0.5, rrf_k=0, depth=2), 3) == [(0, 0.5), (1, 0.5), (2, 0.25)]
    # k above depth widens the candidate lists, so k results still come back
    assert len(fuse(bm25, dense, Fusion("convex", depth=1), 4)) == 4


def test_fusion_validation() -> None:
    with pytest.raises(ValueError, match="method"):
        Fusion("max")
    with pytest.raises(ValueError, match="alpha"):
        Fusion(alpha=1.5)
