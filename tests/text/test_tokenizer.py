from kefu.text import normalize, train_tokenizer

CORPUS = ["I want a refund for my order", "where is my order", "我要退款", "查一下订单 tracking number"] * 3


def test_cjk_characters_are_single_tokens_and_unseen_words_get_pieces():
    tok = train_tokenizer(CORPUS, vocab_size=200)
    tokens = tok.encode("我要refund订单").tokens
    assert tok.encode("refunds").tokens[1:-1] == ["refund", "##s"]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens[1:3] == ["我", "要"]
    assert "refund" in tokens
    assert tokens[-3:-1] == ["订", "单"]


def test_nfkc_and_lowercase_are_applied():
    tok = train_tokenizer(CORPUS, vocab_size=200)
    assert tok.encode("ＲＥＦＵＮＤ").tokens == tok.encode("refund").tokens


def test_unseen_punctuation_is_known():
    tok = train_tokenizer(CORPUS, vocab_size=200)
    assert "[UNK]" not in tok.encode("order, refund!").tokens


def test_normalize():
    assert normalize("  Ｈｅｌｌｏ，世界 ") == "hello,世界"


def test_training_is_deterministic():
    assert train_tokenizer(CORPUS, vocab_size=1000).get_vocab() == train_tokenizer(CORPUS, vocab_size=1000).get_vocab()
