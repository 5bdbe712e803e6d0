import numpy as np
import pytest

from kefu.knowledge.hybrid import Fusion, convex_scores, fuse, minmax, rrf_scores, softmax_scores, zsoftmax


def test_minmax_scales_to_unit_range_and_flat_scores_to_zero() -> None:
    assert minmax(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax(np.array([0.7, 0.7])).tolist() == [0.0, 0.0]


def test_convex_combination() -> None:
    bm25, dense = np.array([0.0, 10.0, 5.0]), np.array([0.9, 0.7, 0.8])
    # dense' = [1, 0, .5], bm25' = [0, 1, .5]
    assert np.allclose(convex_scores(bm25, dense, 0.25), [0.25, 0.75, 0.5])


def test_zsoftmax_gives_an_outlier_most_of_the_mass_and_shares_it_in_a_close_race() -> None:
    outlier = zsoftmax(np.array([0.9, 0.6, 0.61, 0.59, 0.6]))
    race = zsoftmax(np.array([0.9, 0.89, 0.88, 0.6, 0.61]))
    assert np.isclose(outlier.sum(), 1.0) and np.isclose(race.sum(), 1.0)
    assert outlier[0] > 0.7 and race[0] < 0.35
    # z-scores make it blind to a retriever's scale and offset: BM25 points and cosines count alike
    assert np.allclose(zsoftmax(np.array([3.0, 1.0, 2.0])), zsoftmax(np.array([0.93, 0.91, 0.92])))
    assert zsoftmax(np.array([0.7, 0.7])).tolist() == [0.0, 0.0]


def test_softmax_fusion_follows_the_retriever_that_is_sure() -> None:
    # BM25 has one clear winner (passage 1); dense puts passage 1 last but can hardly tell the rest apart
    bm25 = np.array([1.0, 12.0, 1.0, 1.0, 1.0, 1.0])
    dense = np.array([0.86, 0.80, 0.859, 0.858, 0.857, 0.856])
    assert np.argmax(softmax_scores(bm25, dense, 0.7)) == 1
    assert np.argmax(convex_scores(bm25, dense, 0.7)) == 0  # min-max stretches dense's close race apart
    # the other way round: dense is sure of passage 0, BM25's top three are nearly tied
    bm25 = np.array([5.0, 5.2, 5.1, 5.2, 1.0, 0.5])
    dense = np.array([0.95, 0.80, 0.80, 0.79, 0.80, 0.78])
    assert np.argmax(softmax_scores(bm25, dense, 0.3)) == 0


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
    # BM25's passage 1 stands out in z-units, dense's three passages are close: softmax sides with BM25
    # even at a dense weight of 0.7, and its scores are a distribution over the pool
    softmax = fuse(bm25, dense, Fusion("softmax", alpha=0.7), 4)
    assert softmax[0][0] == 1 and np.isclose(sum(score for _, score in softmax), 1.0)
    assert fuse(bm25, dense, Fusion("softmax", alpha=0.95), 1)[0][0] == 0
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
