"""`kefu analyze FILE --model DIR --out DIR`: topics and sentiment of a file of texts, over time and by
source, in summary.json, texts.csv and one self-contained report.html; bad rows skipped and listed."""

import csv
import gc
import json
import re
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from kefu.analysis import analyze as analyze_module
from kefu.analysis.analyze import Scores, TimeCounts, TopicSentimentScorer, analyze_file, parse_time
from kefu.cli import app
from kefu.data import stream
from kefu.data.stream import stream_rows
from kefu.errors import DataError

runner = CliRunner()


RULES = {
    "refund": ("refund", "退款"),
    "delivery": ("parcel", "delivery", "快递"),
    "app": ("app", "login", "闪退"),
}
MOODS = {"negative": ("terrible", "angry", "差", "慢"), "positive": ("thanks", "great", "谢谢", "好评")}


class KeywordScorer:
    """A deterministic stand-in for the models: the first matching rule names the topic (refund before
    delivery before app), keywords the sentiment; "!" makes a text a confident one (0.95, else 0.7)."""

    def __init__(self) -> None:
        self.topics = ["refund", "delivery", "app", "other"]
        self.sentiments = ["negative", "neutral", "positive"]
        self.calls: list[int] = []

    def score(self, texts: list[str]) -> Scores:
        self.calls.append(len(texts))
        topics = [
            next((t for t, words in RULES.items() if any(w in x for w in words)), "other") for x in texts
        ]
        moods = [
            next((m for m, words in MOODS.items() if any(w in x for w in words)), "neutral") for x in texts
        ]
        confidence = [0.95 if "!" in x else 0.7 for x in texts]
        return Scores(topics, confidence, moods, [0.8] * len(texts))


# line: id, created_at, channel, text. Lines 11-13 are bad: 3 fields, an empty text, a date nobody can read.
FIXTURE = """id,created_at,channel,text
1,2024-03-01T08:00:00Z,weibo,"refund please, the product is terrible!"
2,2024-03-01 09:30:00,email,where is my parcel
3,Fri Mar 01 10:00:00 +0000 2024,weibo,the app crashes at login
4,2024-03-01T23:30:00-02:00,weibo,我要退款，质量太差
5,1709373600,email,"快递 too slow, angry"
6,2024-03-02 11:00,weibo,"great app, thanks!"
7,2024-03-02 12:00,email,"refund received, thanks"
8,2024-03-02 13:00,weibo,"delivery was fast, great"
9,2024-03-03 08:00,weibo,app login fails again
10,2024-03-03 09:00,weibo
11,2024-03-03 09:30,email,
12,yesterday,weibo,refund me now
13,2024-03-03 10:00,email,快递丢了，退款吗
14,2024-03-03 11:00,weibo,"parcel arrived broken, terrible!"
15,2024-03-03 12:00,email,app 闪退 after update
16,2024-03-03 13:00,weibo,refund request for order 42
17,2024-03-03 14:00,email,谢谢，快递很快，好评
18,2024-03-01 15:00,email,login to the app is slow
19,2024-03-02 16:00,weibo,"refund still not here, angry!"
20,2024-03-03 17:00,email,"the app update is great, thanks"
21,2024-03-01 18:00,weibo,the app is great!
"""


@pytest.fixture()
def fixture_run(tmp_path):
    source = tmp_path / "posts.csv"
    source.write_text(FIXTURE, encoding="utf-8")
    skipped = []
    summary = analyze_file(source, KeywordScorer(), tmp_path / "out", examples=3, on_skip=skipped.append)
    return summary, skipped, tmp_path / "out"


def test_every_number_of_the_summary_matches_a_hand_count(fixture_run):
    summary, skipped, out = fixture_run
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert data == summary.data
    # by hand, from FIXTURE: topics refund 2,5,8,14,17,20; delivery 3,6,9,15,18; app 4,7,10,16,19,21,22
    assert (data["rows_analysed"], data["rows_skipped"]) == (18, 3)
    assert data["columns"] == {"text": "text", "id": "id", "time": "created_at", "source": "channel"}
    assert list(data["topics"]) == ["app", "refund", "delivery", "other"]  # most frequent first, empty last
    assert {t: v["count"] for t, v in data["topics"].items()} == {
        "app": 7,
        "refund": 6,
        "delivery": 5,
        "other": 0,
    }
    assert data["topics"]["app"]["share"] == round(7 / 18, 4)
    assert data["sentiment_counts"] == {"negative": 5, "neutral": 7, "positive": 6}
    assert data["sentiment_by_topic"] == {
        "app": {"negative": 0, "neutral": 4, "positive": 3},
        "refund": {"negative": 3, "neutral": 2, "positive": 1},
        "delivery": {"negative": 2, "neutral": 1, "positive": 2},
        "other": {"negative": 0, "neutral": 0, "positive": 0},
    }
    # line 5 (23:30 at UTC-2) is on 2 March in UTC; the span is over two days: one bucket a day
    time = data["time"]
    assert time["unit"] == "day"
    assert time["buckets"] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert time["total"] == [5, 6, 7]
    assert time["topics"] == {"app": [3, 1, 3], "refund": [1, 3, 2], "delivery": [1, 2, 2]}
    assert time["sentiments"] == {"negative": [1, 3, 1], "neutral": [3, 0, 4], "positive": [1, 3, 2]}
    assert (time["first"], time["last"]) == ("2024-03-01T08:00:00", "2024-03-03T17:00:00")
    assert time["outside"] == {"before": 0, "after": 0}
    sources = data["sources"]
    assert list(sources) == ["weibo", "email"]
    assert {s: v["count"] for s, v in sources.items()} == {"weibo": 10, "email": 8}
    assert sources["weibo"]["topics"] == {"app": 4, "refund": 4, "delivery": 2}
    assert sources["email"]["sentiments"] == {"negative": 1, "neutral": 4, "positive": 3}
    assert [(s["line"], s["reason"]) for s in data["skipped"]] == [
        (11, "expected 4 fields as in the header, found 3"),
        (12, "empty text"),
        (13, "cannot read the timestamp 'yesterday'"),
    ]
    assert [(s.line, s.reason) for s in skipped] == [(s["line"], s["reason"]) for s in data["skipped"]]
    # the most confident texts ("!"), then the earliest
    assert {t: [e["line"] for e in ex] for t, ex in data["examples"].items()} == {
        "app": [7, 22, 4],
        "refund": [2, 20, 5],
        "delivery": [15, 3, 6],
    }
    first = data["examples"]["refund"][0]
    assert first == {
        "line": 2,
        "id": "1",
        "text": "refund please, the product is terrible!",
        "confidence": 0.95,
        "sentiment": "negative",
        "sentiment_confidence": 0.8,
        "timestamp": "2024-03-01T08:00:00",
        "source": "weibo",
    }
    assert data["texts_per_second"] > 0 and summary.rows == 18 and summary.skipped == 3


def test_texts_csv_has_a_row_per_analysed_text_in_file_order(fixture_run):
    _, _, out = fixture_run
    with (out / "texts.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == [
        "id",
        "text",
        "topic",
        "topic_confidence",
        "sentiment",
        "sentiment_confidence",
        "timestamp",
        "source",
    ]
    assert [int(r["id"]) for r in rows] == [n for n in range(1, 22) if n not in (10, 11, 12)]
    assert rows[3] == {
        "id": "4",
        "text": "我要退款，质量太差",
        "topic": "refund",
        "topic_confidence": "0.7",
        "sentiment": "negative",
        "sentiment_confidence": "0.8",
        "timestamp": "2024-03-02T01:30:00",
        "source": "weibo",
    }
    assert rows[4]["timestamp"] == "2024-03-02T10:00:00"  # epoch seconds
    assert Counter(r["topic"] for r in rows) == {"app": 7, "refund": 6, "delivery": 5}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no partial files left


def test_the_report_is_one_self_contained_page(fixture_run):
    _, _, out = fixture_run
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json", "texts.csv"]
    html = (out / "report.html").read_text(encoding="utf-8")
    for name in ("refund", "delivery", "app", "weibo", "我要退款，质量太差", "yesterday"):
        assert name in html
    assert not re.search(r"https?://", html)  # nothing to fetch: no scripts, links, fonts or images outside
    assert not re.search(r"<script|<link|@import", html)
    images = re.findall(r'<img src="([^"]*)"', html)
    assert len(images) == 4  # topics, sentiment by topic, topics over time, sentiment over time
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "Sources" in html and "Skipped rows (3)" in html


def test_text_from_the_data_is_escaped(tmp_path):
    source = tmp_path / "x.jsonl"
    source.write_text(json.dumps({"text": "<script>alert(1)</script> refund"}) + "\n", encoding="utf-8")
    analyze_file(source, KeywordScorer(), tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; refund" in html


def _analysed(tmp_path, name: str, content: bytes, **options):
    source = tmp_path / name
    source.write_bytes(content)
    summary = analyze_file(source, KeywordScorer(), tmp_path / "out", **options)
    with (tmp_path / "out" / "texts.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return summary.data, rows


def test_bad_csv_records_are_skipped_with_their_line_and_the_rest_is_analysed(tmp_path):
    content = (
        "id,text,date\n"
        "1,hello refund,2024-01-01\n"
        '2,"never closed,2024-01-01\n'  # the quote would run to the end of the file
        "3,parcel late,2024-01-02\n"
        "4,app ok,2024-01-02,extra\n"
        "5,refund now,not a date\n"
        '6,"quoted, with comma",2024-01-03\n'
        "7,app fine,2024-01-03\n"
    )
    data, rows = _analysed(tmp_path, "bad.csv", content.encode())
    assert [s["line"] for s in data["skipped"]] == [3, 5, 6]
    reasons = [s["reason"] for s in data["skipped"]]
    assert reasons[0].startswith("malformed record: ") and "never closed" in reasons[0]
    assert reasons[1:] == [
        "expected 3 fields as in the header, found 4",
        "cannot read the timestamp 'not a date'",
    ]
    assert [r["id"] for r in rows] == ["1", "3", "6", "7"]
    assert rows[2]["text"] == "quoted, with comma"
    assert data["rows_analysed"] == 4 and data["rows_skipped"] == 3


def test_an_unclosed_quote_loses_only_its_own_line_however_long_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "MAX_RECORD_LINES", 5)
    lines = ["text", "refund one", '"never closed'] + [f"parcel {n}" for n in range(20)]
    data, rows = _analysed(tmp_path, "long.csv", ("\n".join(lines) + "\n").encode())
    assert [s["line"] for s in data["skipped"]] == [3]
    assert len(rows) == 21 and rows[-1]["text"] == "parcel 19"


def test_bad_jsonl_lines_are_skipped_with_their_line_and_the_rest_is_analysed(tmp_path):
    lines = [
        json.dumps({"text": "refund please", "created_at": "2024-01-01T10:00:00", "source": "web"}),
        json.dumps({"text": "parcel late", "created_at": 1704103200, "source": "app"}),
        "{bad json",
        '["not", "an", "object"]',
        json.dumps({"created_at": "2024-01-02"}),
        json.dumps({"text": 42, "created_at": "2024-01-02"}),
        "",
        json.dumps({"text": "  ", "created_at": "2024-01-02"}),
        json.dumps({"text": "app crash", "created_at": "31/02/2024"}),
        json.dumps({"text": "app works", "created_at": "2024-01-03"}),
        '{"text": "caf\xe9", "created_at": "2024-01-03"}',
        json.dumps({"text": "退款", "created_at": "2024-01-03 12:00"}, ensure_ascii=False),
        json.dumps({"text": "parcel without a date", "source": "web"}),  # analysed, counted as missing
    ]
    content = b"\n".join(line.encode("latin-1" if "caf" in line else "utf-8") for line in lines) + b"\n"
    data, rows = _analysed(tmp_path, "bad.jsonl", content)
    assert [(s["line"], s["reason"]) for s in data["skipped"]] == [
        (3, "invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        (4, "expected a JSON object"),
        (5, "missing key 'text'"),
        (6, "value of 'text' is not a string"),
        (8, "empty text"),
        (9, "cannot read the timestamp '31/02/2024'"),
        (11, "not valid UTF-8 (byte 0xe9 at column 14)"),
    ]
    assert [r["text"] for r in rows] == [
        "refund please",
        "parcel late",
        "app works",
        "退款",
        "parcel without a date",
    ]
    assert [r["source"] for r in rows] == ["web", "app", "(none)", "(none)", "web"]
    assert rows[-1]["timestamp"] == "" and data["time"]["missing"] == 1
    assert rows[1]["timestamp"] == "2024-01-01T10:00:00"
    assert data["time"]["buckets"] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert data["time"]["total"] == [2, 0, 2]


def test_file_level_problems_are_one_error(tmp_path):
    with pytest.raises(DataError, match=r"x.json: cannot analyse '.json' files"):
        analyze_file(tmp_path / "x.json", KeywordScorer(), tmp_path / "out")
    (tmp_path / "nocol.csv").write_text("ticket,body_text\n1,hello\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"nocol.csv: no text column"):
        analyze_file(tmp_path / "nocol.csv", KeywordScorer(), tmp_path / "out")
    (tmp_path / "bad.csv").write_text("text,date\n,2024-01-01\nhi,someday\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"bad.csv: no texts to analyse \(2 rows skipped, the first at line 2\)"
    ):
        analyze_file(tmp_path / "bad.csv", KeywordScorer(), tmp_path / "out")
    with pytest.raises(DataError, match=r"'missing' not found"):
        analyze_file(tmp_path / "bad.csv", KeywordScorer(), tmp_path / "out", time_col="missing")
    assert not (tmp_path / "out").exists()  # a failed run leaves nothing behind


def test_a_failed_run_keeps_no_partial_output(tmp_path, monkeypatch):
    source = tmp_path / "posts.csv"
    source.write_text(FIXTURE, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()

    def broken(data, title=None):
        raise RuntimeError("boom")

    monkeypatch.setattr("kefu.analysis.report.render_report", broken)
    with pytest.raises(RuntimeError):
        analyze_file(source, KeywordScorer(), out)
    assert list(out.iterdir()) == []


def test_the_file_is_scored_in_bounded_batches(tmp_path):
    source = tmp_path / "many.txt"
    source.write_text("".join(f"refund {n}\n" for n in range(1000)), encoding="utf-8")
    scorer = KeywordScorer()
    summary = analyze_file(source, scorer, tmp_path / "out", batch_size=64)
    assert scorer.calls == [64] * 15 + [40]
    assert summary.data["time"] is None and summary.data["sources"] is None
    assert summary.data["columns"] == {"text": None, "id": None, "time": None, "source": None}


TERMS = {
    "refund": [
        "I want a refund for my order",
        "refund my money please",
        "申请退款要多久",
        "退款什么时候到账",
        "the refund has not arrived",
        "退款进度怎么查",
    ],
    "delivery": [
        "my parcel is late",
        "the courier lost my parcel",
        "快递什么时候到",
        "快递员没有送货",
        "parcel tracking is wrong",
        "送货太慢了快递",
    ],
    "app": [
        "the app crashes on start",
        "app login page is blank",
        "手机应用闪退",
        "应用闪退怎么办",
        "app keeps crashing after update",
        "登录应用闪退",
    ],
}


def test_characteristic_terms_name_their_topic_in_english_and_chinese(tmp_path):
    source = tmp_path / "mixed.jsonl"
    lines = [json.dumps({"text": t}, ensure_ascii=False) for texts in TERMS.values() for t in texts]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    class ByList(KeywordScorer):
        def score(self, texts):
            topics = [next(t for t, xs in TERMS.items() if x in xs) for x in texts]
            return Scores(topics, [0.9] * len(texts), ["neutral"] * len(texts), [0.9] * len(texts))

    terms = analyze_file(source, ByList(), tmp_path / "out").data["terms"]
    top = {topic: [t["term"] for t in found[:4]] for topic, found in terms.items()}
    assert {"refund", "退款"} <= set(top["refund"]), top
    assert {"parcel", "快递"} <= set(top["delivery"]), top
    assert {"app", "闪退"} <= set(top["app"]), top
    for topic, words in top.items():  # no topic is described by another topic's word
        others = {w for t, ws in top.items() if t != topic for w in ws[:2]}
        assert not others & set(words[:2])
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "退款" in html and "闪退" in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-10-31T23:36:20Z", datetime(2017, 10, 31, 23, 36, 20)),
        ("2017-10-31T23:36:20+08:00", datetime(2017, 10, 31, 15, 36, 20)),
        ("2017-10-31 23:36:20", datetime(2017, 10, 31, 23, 36, 20)),
        ("2017-10-31", datetime(2017, 10, 31)),
        ("Tue Oct 31 23:36:20 +0000 2017", datetime(2017, 10, 31, 23, 36, 20)),
        ("Wed Nov 01 07:40:06 +0100 2017", datetime(2017, 11, 1, 6, 40, 6)),
        ("Tue, 31 Oct 2017 23:36:20 +0000", datetime(2017, 10, 31, 23, 36, 20)),
        ("2017/10/31 23:36", datetime(2017, 10, 31, 23, 36)),
        ("2017年10月31日 23:36:20", datetime(2017, 10, 31, 23, 36, 20)),
        ("1509492980", datetime(2017, 10, 31, 23, 36, 20)),
        (1509492980, datetime(2017, 10, 31, 23, 36, 20)),
        ("1509492980000", datetime(2017, 10, 31, 23, 36, 20)),
        ("yesterday", None),
        ("2017-13-40", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_timestamps(value, expected):
    assert parse_time(value) == expected


@pytest.mark.parametrize(
    ("times", "unit", "buckets"),
    [
        (
            ["2024-03-01 08:10", "2024-03-01 10:59", "2024-03-01 08:40"],
            "hour",
            ["2024-03-01 08:00", "2024-03-01 09:00", "2024-03-01 10:00"],
        ),
        (["2024-03-01", "2024-03-03 12:00"], "day", ["2024-03-01", "2024-03-02", "2024-03-03"]),
        (["2024-01-03", "2024-06-30"], "week", None),  # 180 days: weeks starting on Monday
    ],
)
def test_time_buckets_follow_the_span(times, unit, buckets):
    counts = TimeCounts()
    for t in times:
        counts.add(parse_time(t), "a", None)
    result = counts.to_dict(["a"], [])
    assert result["unit"] == unit
    if buckets is not None:
        assert result["buckets"] == buckets
    else:
        assert result["buckets"][0] == "2024-01-01" and result["buckets"][-1] == "2024-06-24"
        assert len(result["buckets"]) == 26 and sum(result["total"]) == 2
    assert result["topics"]["a"] == result["total"]


def test_a_few_stray_timestamps_do_not_stretch_the_time_axis():
    counts = TimeCounts()
    for n in range(1000):  # 2017-10-01 .. 2017-11-11, and one text from 2013 and one from 2019
        counts.add(datetime(2017, 10, 1) + timedelta(hours=n), "a", None)
    counts.add(datetime(2013, 9, 18), "a", None)
    counts.add(datetime(2019, 1, 1), "a", None)
    result = counts.to_dict(["a"], [])
    assert result["unit"] == "day" and (result["buckets"][0], result["buckets"][-1]) == (
        "2017-10-01",
        "2017-11-11",
    )
    assert result["outside"] == {"before": 1, "after": 1} and sum(result["total"]) == 1000
    assert (result["first"], result["last"]) == ("2013-09-18T00:00:00", "2019-01-01T00:00:00")


def test_time_counts_stay_bounded_however_long_the_span():
    counts = TimeCounts(max_buckets=100)  # per hour, then per day, then per week (52 a year)
    hours = range(0, 24 * 400, 5)  # 400 days, a text every 5 hours
    for hour in hours:
        counts.add(datetime(2020, 1, 1) + timedelta(hours=hour), "a", "x")
        assert len(counts.total) <= 101
    assert counts.unit == "week"
    result = counts.to_dict(["a"], ["x"])
    assert result["unit"] == "week" and sum(result["total"]) == len(hours) == sum(result["sentiments"]["x"])


def test_bare_carriage_returns_inside_csv_fields_stay_in_the_field(tmp_path):
    source = tmp_path / "cr.csv"
    source.write_bytes(b'id,text\r\n1,first\rline\r\n2,"quoted\rtoo"\n3,last\n')
    rows = list(stream_rows(source))
    assert [(r.line, r.id, r.text) for r in rows] == [
        (2, "1", "first\rline"),
        (3, "2", "quoted\rtoo"),
        (4, "3", "last"),
    ]
    # a file whose lines end with CR alone is still an error, not one long record
    source.write_bytes(b"id,text\r1,a\r2,b\r")
    with pytest.raises(DataError, match="malformed record"):
        list(stream_rows(source))


def test_stream_rows_finds_the_extra_columns_asked_for(tmp_path):
    source = tmp_path / "x.csv"
    source.write_text("Tweet_ID,Created_At,text\n7,2024-01-01,hi\n", encoding="utf-8")
    extra = {"time": (None, ("created_at",)), "src": (None, ("source",))}
    rows = stream_rows(source, id_names=("id", "tweet_id"), extra=extra)
    size = source.stat().st_size
    assert list(rows) == [stream.Row(2, "hi", "7", True, size, {"time": "2024-01-01"})]
    assert rows.columns == {"text": "text", "id": "Tweet_ID", "time": "Created_At", "src": None}
    with pytest.raises(DataError, match=r"x.csv: column 'when' not found"):
        list(stream_rows(source, extra={"time": ("when", ())}))


# ------------------------------------------------------------------ with real (tiny) models, via the CLI


def _tweets(path, n: int = 30) -> list[str]:
    texts = ["I want a refund", "where is my order", "hello", "我要退款", "查一下快递", "track my package"]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["", "tweet_id", "created_at", "text"])
        for i in range(n):
            stamp = (
                f"Tue Oct 31 {i % 24:02d}:36:20 +0000 2017"
                if i % 3
                else f"Wed Nov 01 {i % 24:02d}:00:00 +0000 2017"
            )
            writer.writerow([i, 1000 + i, stamp, f"{texts[i % len(texts)]} {i}"])
    with path.open("a", encoding="utf-8") as file:
        file.write("99,1099,not a time,hello again\n")
    return texts


def test_the_command_end_to_end_with_a_trained_model(tmp_path, saved_model, tiny_model):
    source, out = tmp_path / "tweets.csv", tmp_path / "report"
    _tweets(source)
    result = runner.invoke(app, ["analyze", str(source), "--model", str(saved_model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{source}:32: cannot read the timestamp 'not a time' (skipped)" in result.stderr
    assert "analysed 30 texts, skipped 1 row (" in result.stderr
    assert "no sentiment model" in result.stderr
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    with (out / "texts.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert data["rows_analysed"] == len(rows) == 30
    assert data["columns"] == {"text": "text", "id": "tweet_id", "time": "created_at", "source": None}
    assert {t: v["count"] for t, v in data["topics"].items() if v["count"]} == Counter(
        r["topic"] for r in rows
    )
    assert set(data["topics"]) == set(tiny_model.labels)
    assert sum(data["time"]["total"]) == 30 and data["time"]["unit"] == "hour"
    expected = [p.intent for p in tiny_model.predict([r["text"] for r in rows])]
    assert [r["topic"] for r in rows] == expected  # no out-of-scope here: the best topic, always
    assert [r["id"] for r in rows] == [str(1000 + i) for i in range(30)]
    assert all(r["sentiment"] == "" for r in rows) and data["sentiment_by_topic"] is None
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "No sentiment model" in html and not re.search(r"https?://", html)
    for topic in data["topics"]:
        assert topic in html


@pytest.fixture(scope="module")
def mood_dir(tmp_path_factory, tiny_examples, tiny_config):
    from kefu.data import Example
    from kefu.training import fit

    moods = {
        "negative": ["this is terrible", "worst service ever", "I am so angry", "太差了", "气死我了"],
        "neutral": ["where is my parcel", "how do I pay", "what time do you open", "怎么付款", "几点开门"],
        "positive": ["great service thanks", "I love it", "wonderful, thank you", "太好了", "非常满意"],
    }
    examples = [Example(text, label) for label, texts in moods.items() for text in texts]
    model = fit(tiny_examples, tiny_config, progress=False, sentiment=examples)
    return model.save(tmp_path_factory.mktemp("mood") / "model")


def test_topic_and_sentiment_from_one_model_take_one_forward_pass(tmp_path, mood_dir, monkeypatch):
    scorer = TopicSentimentScorer.load(mood_dir)
    assert scorer.sentiments == ["negative", "neutral", "positive"]
    calls = []
    original = scorer.topic_model.outputs
    monkeypatch.setattr(
        scorer.topic_model, "outputs", lambda texts, *a, **k: calls.append(len(texts)) or original(texts, *a, **k)
    )
    texts = ["I want a refund, this is terrible", "hello, great service thanks", "我要退款", "气死我了"]
    scores = scorer.score(texts)
    assert calls == [4]
    predictions = scorer.topic_model.predict(texts)
    assert scores.topics == [p.intent for p in predictions]
    assert scores.sentiments == [p.sentiment["label"] for p in predictions]
    assert scores.topic_confidence == pytest.approx(
        [max(r["confidence"] for r in p.ranking) for p in predictions], abs=1e-5
    )


def test_a_separate_sentiment_model(tmp_path, saved_model, mood_dir):
    source, out = tmp_path / "tweets.csv", tmp_path / "report"
    _tweets(source, 12)
    arguments = ["analyze", str(source), "--model", str(saved_model), "--sentiment-model", str(mood_dir)]
    result = runner.invoke(app, [*arguments, "--out", str(out), "--time-col", "created_at"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert data["sentiment_model"] == str(mood_dir)
    assert sum(data["sentiment_counts"].values()) == data["rows_analysed"] == 12
    assert sum(sum(v.values()) for v in data["sentiment_by_topic"].values()) == 12
    with (out / "texts.csv").open(encoding="utf-8", newline="") as file:
        assert {r["sentiment"] for r in csv.DictReader(file)} <= {"negative", "neutral", "positive"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Sentiment over time" in html
    result = runner.invoke(app, [*arguments[:4], "--sentiment-model", str(saved_model), "--out", str(out)])
    assert result.exit_code == 1 and "has no sentiment head" in result.stderr
    assert result.stderr.count("\n") == 1


def test_help_has_examples():
    result = runner.invoke(app, ["analyze", "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "--sentiment-model" in result.output


def test_the_column_names_looked_for():
    assert analyze_module.TEXT_NAMES[:5] == ("text", "content", "comment", "review", "headline")
    assert {"created_at", "timestamp", "time", "date"} <= set(analyze_module.TIME_NAMES)


def test_without_a_cjk_font_the_charts_number_chinese_topics(tmp_path, monkeypatch):
    from kefu.analysis import report

    names = {"refund": "退款", "delivery": "物流", "app": "应用", "other": "其他"}

    class Chinese(KeywordScorer):
        def score(self, texts):
            scores = super().score(texts)
            return scores._replace(topics=[names[t] for t in scores.topics])

    source = tmp_path / "posts.csv"
    source.write_text(FIXTURE, encoding="utf-8")
    scorer = Chinese()
    scorer.topics = list(names.values())
    monkeypatch.setattr(report, "cjk_font", lambda: None)
    data = analyze_file(source, scorer, tmp_path / "out").data
    assert report.chart_labels(["应用", "退款", "物流"], {"应用": 1, "退款": 2}) == ["#1", "#2", "物流"]
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "No CJK font installed" in html and "<td>应用</td>" in html and "#1 应用" in html
    assert list(data["topics"]) == ["应用", "退款", "物流", "其他"]
    monkeypatch.setattr(report, "cjk_font", lambda: "Some CJK Font")
    assert report.chart_labels(["应用", "refund"], {"应用": 1}) == ["应用", "refund"]
    assert "No CJK font installed" not in report.render_report(data)


def test_memory_does_not_grow_with_the_file(tmp_path):
    texts = ["refund please", "where is my parcel", "the app crashes", "我要退款", "快递到哪了", "great app"]

    def peak(rows: int) -> int:
        source = tmp_path / f"in{rows}.csv"
        with source.open("w", encoding="utf-8") as file:
            file.write("id,created_at,channel,text\n")
            file.writelines(
                f"{n},2024-03-{1 + n % 28:02d} {n % 24:02d}:00,c{n % 3},{texts[n % 6]} {n}\n"
                for n in range(rows)
            )
        # After a long test session the collector runs its full passes rarely (they wait for the long-lived
        # objects to grow by a quarter), and cyclic garbage then inflates the peak with the file's length.
        # Freezing what exists makes this run's garbage collected as it would be in a fresh process.
        gc.collect()
        gc.freeze()
        tracemalloc.start()
        try:
            summary = analyze_file(source, KeywordScorer(), tmp_path / f"out{rows}", batch_size=100)
            _, most = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            gc.unfreeze()
        assert (summary.rows, summary.skipped) == (rows, 0)
        return most

    peak(100)  # once for what is loaded once (jieba's dictionary, matplotlib's fonts)
    small, large = peak(1_000), peak(8_000)
    assert large < small * 1.15, (small, large)
