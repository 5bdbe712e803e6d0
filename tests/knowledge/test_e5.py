"""The real e5 engine, on a handful of texts (a second or two)."""

import numpy as np
import pytest

from kefu.knowledge import E5Embedder, KnowledgeBase, Passage


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(num_threads=2)


def test_e5_vectors_are_unit_rows_and_prefixes_matter(e5: E5Embedder) -> None:
    passages = e5.embed_passages(["Refunds take 5-7 business days.", "退款会在3到5个工作日内到账。"])
    queries = e5.embed_queries(["Refunds take 5-7 business days."])
    assert passages.shape == (2, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(queries[0], passages[0], atol=1e-3)  # "query: " vs "passage: " prefix
    assert e5.embed_queries([]).shape == (0, 384)


def test_dense_side_matches_across_wording(e5: E5Embedder) -> None:
    texts = [
        "Refunds reach your card within 5-7 business days.",
        "You can change the delivery address until the parcel ships.",
        "退款会在3到5个工作日内退回原支付账户。",
        "会员每月可以领取一张优惠券。",
    ]
    kb = KnowledgeBase.build([Passage(str(i), t, t, f"t:{i}") for i, t in enumerate(texts)], e5)
    assert kb.search("when do I get my money back", k=1)[0].passage.id == "0"
    assert kb.search("钱什么时候退给我", k=1)[0].passage.id == "2"
    assert kb.search("ship to a different place", k=1)[0].passage.id == "1"
