import json

import pytest

from kefu.entities import Entity, from_bio, from_span_json, join_tokens, parse_inline, read_span_jsonl, to_bio
from kefu.entities.annotations import decode_tags
from kefu.errors import DataError


def spans(entities):
    return [(e.type, e.value, e.start, e.end) for e in entities]


# one sentence in the three formats: inline markup, span JSON, BIO tokens + tags (+ the join to use)
SAME_SENTENCE = [
    (
        "I want to track order [A12345](order_id)",
        {"text": "I want to track order A12345", "entities": [{"type": "order_id", "start": 22, "end": 28}]},
        (["I", "want", "to", "track", "order", "A12345"], ["O", "O", "O", "O", "O", "B-order_id"], None),
    ),
    (
        "book [new york]{\"entity\": \"city\"} for [tomorrow](date)",
        {"text": "book new york for tomorrow",
         "entities": [{"entity": "city", "start": 5, "end": 13, "value": "new york"},
                      {"type": "date", "start": 18, "end": 26}]},
        (["book", "new", "york", "for", "tomorrow"], ["O", "B-city", "I-city", "O", "B-date"], " "),
    ),
    (
        "我要听[吴雨霏](singer_name)的歌",
        {"text": "我要听吴雨霏的歌", "entities": [{"type": "singer_name", "start": 3, "end": 6}]},
        (list("我要听吴雨霏的歌"), ["O", "O", "O", "B-singer_name", "I-singer_name", "E-singer_name", "O", "O"],
         None),
    ),
    (
        "我要听[tfboys](singer_name)唱的歌",
        {"text": "我要听tfboys唱的歌", "entities": [{"type": "singer_name", "start": 3, "end": 9}]},
        # CAIS splits Latin words into letters too: joined with "" they read as written
        (list("我要听tfboys唱的歌"), ["O"] * 3 + ["B-singer_name"] + ["I-singer_name"] * 4 + ["E-singer_name"]
         + ["O"] * 3, ""),
    ),
    (
        "查[北京](city)[明天](date)天气",
        {"text": "查北京明天天气", "entities": [{"type": "date", "start": 3, "end": 5},
                                               {"type": "city", "start": 1, "end": 3}]},
        (list("查北京明天天气"), ["O", "B.city", "I.city", "B-date", "E-date", "O", "O"], None),
    ),
]


@pytest.mark.parametrize("inline, span_json, bio", SAME_SENTENCE)
def test_three_formats_give_the_same_spans(inline, span_json, bio):
    tokens, tags, join = bio
    text_a, entities_a = parse_inline(inline)
    text_b, entities_b = from_span_json(span_json, "x.jsonl", 1)
    text_c, entities_c = from_bio(tokens, tags, lang_join=join)
    assert text_a == text_b == text_c
    assert spans(entities_a) == spans(entities_b) == spans(entities_c)
    assert all(e.source == "annotation" for e in entities_a + entities_b + entities_c)
    assert all(text_a[e.start:e.end] == e.value for e in entities_a)


@pytest.mark.parametrize("markup, text, expected", [
    ("no entities here", "no entities here", []),
    ("[NYC]{\"entity\": \"city\", \"value\": \"New York\"} please", "NYC please", [("city", "New York", 0, 3)]),
    ("[NYC](city:New York)", "NYC", [("city", "New York", 0, 3)]),
    ("[red]{\"entity\": \"color\", \"role\": \"from\"} to [blue](color)", "red to blue",
     [("color", "red", 0, 3), ("color", "blue", 7, 11)]),
    ("[urgent] help [me]", "[urgent] help [me]", []),  # brackets without a label stay text
    ("退款[100元](money)到[支付宝](channel)", "退款100元到支付宝", [("money", "100元", 2, 6), ("channel", "支付宝", 7, 10)]),
])
def test_parse_inline(markup, text, expected):
    plain, entities = parse_inline(markup)
    assert plain == text
    assert spans(entities) == expected


@pytest.mark.parametrize("markup, message", [
    ("[x]{not json}", "invalid JSON"),
    ("[x]{\"role\": \"a\"}", "names no entity type"),
    ("[x]()", "names no entity type"),
])
def test_parse_inline_errors_name_the_place(markup, message):
    with pytest.raises(DataError, match=rf"^nlu.yml:7: .*{message}"):
        parse_inline(markup, where="nlu.yml:7")


@pytest.mark.parametrize("obj, message", [
    ({"entities": []}, "'text' is missing"),
    ({"text": "hi", "entities": {}}, "'entities' must be a list"),
    ({"text": "hello", "entities": [{"start": 0, "end": 2}]}, "entity 1: 'type'"),
    ({"text": "hello", "entities": [{"type": "x", "start": 0}]}, "entity 1: 'end' is missing"),
    ({"text": "hello", "entities": [{"type": "x", "start": True, "end": 2}]}, "'start' is missing or not an integer"),
    ({"text": "hello", "entities": [{"type": "x", "start": 3, "end": 9}]}, r"span \[3, 9\) is not inside"),
    ({"text": "hello", "entities": [{"type": "x", "start": 3, "end": 3}]}, "is empty"),
    ({"text": "hello", "entities": [{"type": "x", "start": 0, "end": 1},
                                    {"type": "x", "start": 1, "end": 4, "value": "hell"}]},
     r"entity 2: value 'hell' does not match text\[1:4\] = 'ell'"),
    (["not", "an", "object"], "expected an object"),
])
def test_bad_span_json_names_file_and_line(obj, message):
    with pytest.raises(DataError, match=rf"^data/train.jsonl:12: .*{message}"):
        from_span_json(obj, "data/train.jsonl", 12)


def test_read_span_jsonl_reports_the_failing_line(tmp_path):
    path = tmp_path / "spans.jsonl"
    good = {"text": "call 911", "entities": [{"type": "number", "start": 5, "end": 8, "value": "911"}]}
    bad = {"text": "call 911", "entities": [{"type": "number", "start": 4, "end": 8, "value": "911"}]}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}:3: entity 1: value"):
        read_span_jsonl(path)
    path.write_text(json.dumps(good) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}:2: invalid JSON"):
        read_span_jsonl(path)
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    assert read_span_jsonl(path) == [("call 911", [Entity("number", "911", 5, 8, "annotation")])]


@pytest.mark.parametrize("tokens, join, text", [
    (["hello", "world"], None, "hello world"),
    (list("你好世界"), None, "你好世界"),
    (["我", "要", "听", "tfboys", "的", "歌"], None, "我要听tfboys的歌"),
    (["play", "周杰伦", "now"], None, "play周杰伦now"),
    (["a", " ", "b"], None, "a b"),  # a token that is a space is not padded again
    (["t", "f", "b"], "", "tfb"),
    (["find", "playstation官方杂志", "a", "song"], " ", "find playstation官方杂志 a song"),
])
def test_join_tokens(tokens, join, text):
    joined, offsets = join_tokens(tokens, join)
    assert joined == text
    assert [joined[start:end] for start, end in offsets] == tokens


@pytest.mark.parametrize("tags, expected", [
    (["B-city", "I-city", "O", "B-date"], [("city", 0, 1), ("date", 3, 3)]),
    (["B-a", "B-a", "I-a"], [("a", 0, 0), ("a", 1, 2)]),
    (["I-a", "I-a", "O"], [("a", 0, 1)]),  # a leading I- starts an entity, as in conlleval
    (["B-a", "I-b"], [("a", 0, 0), ("b", 1, 1)]),
    (["B-a", "E-a", "E-a"], [("a", 0, 1), ("a", 2, 2)]),
    (["S-a", "S-a", "B-b", "I-b", "E-b"], [("a", 0, 0), ("a", 1, 1), ("b", 2, 4)]),
    (["B.city", "I.city"], [("city", 0, 1)]),
    (["U-x", "B-y", "L-y", "B-z", "M-z"], [("x", 0, 0), ("y", 1, 2), ("z", 3, 4)]),
    (["O", "O"], []),
])
def test_decode_tags(tags, expected):
    assert decode_tags(tags) == expected


@pytest.mark.parametrize("tokens, tags, message", [
    (["a", "b"], ["O"], "1 tags for 2 tokens"),
    (["a"], ["X-city"], "unknown tag 'X-city'"),
    (["a"], ["B-"], "unknown tag 'B-'"),
])
def test_from_bio_errors(tokens, tags, message):
    with pytest.raises(DataError, match=f"^seq.out:4: {message}"):
        from_bio(tokens, tags, where="seq.out:4")


@pytest.mark.parametrize("scheme, tags", [
    ("BIO", ["O", "B-city", "I-city", "O", "B-date"]),
    ("BIOES", ["O", "B-city", "E-city", "O", "S-date"]),
])
def test_to_bio_inverts_from_bio(scheme, tags):
    tokens = ["fly", "new", "york", "on", "friday"]
    _, entities = from_bio(tokens, tags)
    _, offsets = join_tokens(tokens)
    assert to_bio(entities, offsets, scheme=scheme) == tags


def test_to_bio_partial_and_overlapping_tokens():
    # tokens from a subword tokenizer: "A12", "345" and an empty special token
    offsets = [(0, 5), (6, 9), (9, 12), (12, 12), (13, 18)]  # "track A12345 today" with a gap token
    entities = [Entity("order_id", "A12345", 6, 12), Entity("word", "12345", 7, 12)]
    assert to_bio(entities, offsets) == ["O", "B-order_id", "I-order_id", "O", "O"]
    assert to_bio([Entity("x", "ack A", 2, 7)], offsets) == ["B-x", "I-x", "O", "O", "O"]
    with pytest.raises(ValueError, match="unknown tagging scheme"):
        to_bio([], offsets, scheme="BILOU")
