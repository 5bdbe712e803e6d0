import math

import numpy as np

from kefu.knowledge.bm25 import BM25, Tokenizer, top_k

PASSAGES = [
    "Refunds reach your card within 5-7 business days.",
    "Open the order page and choose Edit address to change your delivery address.",
    "We ship to most countries; express delivery takes one day.",
    "退款会在3到5个工作日内退回原支付账户。",
    "在订单详情页点击修改地址，发货前都可以修改收货地址。",
    "会员每月可以领取一张优惠券，优惠券不能叠加使用。",
]


def test_tokenizer_folds_width_and_case_and_cuts_chinese_words() -> None:
    tokens = Tokenizer()("ＡＢＣ１２３ Refunds for iPhone手机银行卡")
    assert tokens[:3] == ["abc123", "refunds", "iphone"]
    assert "手机" in tokens and "银行卡" in tokens and "银行" in tokens  # search mode adds inner words
    assert "银行" not in Tokenizer(cjk="words")("银行卡")


def test_tokenizer_options() -> None:
    text = "How do I change the charges on my cards"
    assert Tokenizer(stem=True)(text) == ["change", "charge", "card"]
    assert Tokenizer()(text) == ["change", "charges", "cards"]
    assert Tokenizer(stop_words=False, stem=False)(text) == text.lower().split()


def test_obvious_passage_ranks_first_in_english_and_chinese() -> None:
    bm25 = BM25.fit(PASSAGES)
    assert bm25.search("how do I change my delivery address", 1)[0][0] == 1
    assert bm25.search("when is my refund back on the card", 1)[0][0] == 0
    assert bm25.search("退款几天能到账", 1)[0][0] == 3
    assert bm25.search("怎么修改地址", 1)[0][0] == 4
    assert bm25.search("优惠券可以叠加吗", 1)[0][0] == 5


def test_scores_follow_the_okapi_formula() -> None:
    docs = ["apple banana", "apple apple cherry cherry", "banana"]
    bm25 = BM25.fit(docs, k1=1.2, b=0.75, tokenizer=Tokenizer(stop_words=False, stem=False))
    n, avgdl = 3, (2 + 4 + 1) / 3

    def expected(tf: int, df: int, length: int) -> float:
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / avgdl))

    scores = bm25.scores("apple cherry")
    assert np.allclose(scores, [expected(1, 2, 2), expected(2, 2, 4) + expected(2, 1, 4), 0.0], rtol=1e-5)
    assert bm25.search("apple cherry", 5) == [(1, scores[1]), (0, scores[0])]  # no zero-score passages
    assert bm25.search("durian", 5) == []


def test_state_round_trip() -> None:
    bm25 = BM25.fit(PASSAGES, k1=1.2, b=0.5, tokenizer=Tokenizer(cjk="words"))
    meta, arrays = bm25.state()
    again = BM25.from_state(meta, arrays)
    assert again.tokenizer == bm25.tokenizer and (again.k1, again.b) == (1.2, 0.5)
    for query in ["delivery address", "退款", "nothing matches"]:
        assert np.array_equal(again.scores(query), bm25.scores(query))


def test_top_k_is_sorted_and_breaks_ties_by_index() -> None:
    scores = np.array([0.5, 2.0, 0.5, 3.0, 0.5])
    assert top_k(scores, 3).tolist() == [3, 1, 0]
    assert top_k(scores, 10).tolist() == [3, 1, 0, 2, 4]
    assert top_k(scores, 0).tolist() == []
