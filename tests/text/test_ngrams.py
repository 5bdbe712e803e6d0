import math

import pytest

from kefu.text import NgramFeaturizer
from kefu.text.normalize import normalize_with_origins

TEXTS = ["I want a refund", "refund my order", "我要退款", "我要查订单", "where is my order"]


def test_features_are_unit_length_and_known_only():
    f = NgramFeaturizer(min_df=1).fit(TEXTS)
    idx, w = f.features("refund my order")
    assert idx and len(idx) == len(w)
    assert math.isclose(math.sqrt(sum(x * x for x in w)), 1.0, rel_tol=1e-6)
    assert f.features("zzzz qqqq") == ([], [])


def test_min_df_drops_rare_grams():
    f = NgramFeaturizer(min_df=2).fit(TEXTS)
    assert "w:refund" in f.vocab and "w:want" not in f.vocab
    assert "w:我" in f.vocab  # CJK characters are words of their own


def test_dict_round_trip_gives_identical_features():
    f = NgramFeaturizer(min_df=1).fit(TEXTS)
    g = NgramFeaturizer.from_dict(f.to_dict())
    assert g.features("我要退款 refund") == f.features("我要退款 refund")


def test_batch_layout_matches_embedding_bag():
    f = NgramFeaturizer(min_df=1).fit(TEXTS)
    idx, off, w = f.batch(["refund", "我要"])
    assert off.tolist() == [0, len(f.features("refund")[0])]
    assert idx.shape == w.shape


def test_from_dict_rejects_mismatched_lengths():
    data = NgramFeaturizer(min_df=1).fit(TEXTS).to_dict()
    data["idf"] = data["idf"][:-1]
    with pytest.raises(ValueError, match="IDF"):
        NgramFeaturizer.from_dict(data)


def test_spans_locate_every_feature_in_the_raw_text():
    f = NgramFeaturizer(min_df=1).fit(TEXTS)
    text = "  Refund  my ＯＲＤＥＲ 我要退款!"
    spans = f.spans(text)
    assert sorted(spans) == sorted(f.features(text)[0])  # exactly the features the model reads
    located = {gram: [text[a:b] for a, b in spans[i]] for gram, i in f.vocab.items() if i in spans}
    assert located["w:refund"] == ["Refund"] and located["w:order"] == ["ＯＲＤＥＲ"]
    assert located["w:refund my"] == ["Refund  my"] and located["w:要 退"] == ["要退"]
    assert located["c: r"] == ["R"] and located["c:y o"] == ["y Ｏ"]  # pad and inner spaces belong to no word
    assert f.spans("") == {} and f.spans("   ") == {}


def test_normalize_with_origins_points_back_into_the_raw_text():
    assert normalize_with_origins("  Ａb ") == ("ab", [2, 3])
    assert normalize_with_origins("ﬁne") == ("fine", [0, 0, 1, 2])  # a ligature unfolds into two letters
    # "e" + a combining accent composes into one "é", which comes from the "e"
    assert normalize_with_origins("cafe\u0301 x") == ("café x", [0, 1, 2, 3, 5, 6])
