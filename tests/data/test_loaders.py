"""Tests for reading data files: every format, column detection, and the one-line errors."""

import re
from pathlib import Path

import pytest

from kefu.data import Example, load_dataset, load_examples
from kefu.entities import Entity
from kefu.errors import DataError


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def pairs(examples: list[Example]) -> list[tuple[str, str, int | None]]:
    return [(example.text, example.label, example.line) for example in examples]


# --- CSV / TSV ---------------------------------------------------------------------------------------


def test_csv_detects_columns_case_insensitively_and_keeps_text(tmp_path):
    path = write(tmp_path, "data.csv", "id,Utterance,Intent\n1,  hello there,greet \n2,bye,  goodbye\n")
    examples = load_examples(path)
    assert pairs(examples) == [("  hello there", "greet", 2), ("bye", "goodbye", 3)]
    assert examples[0].source == str(path)


def test_csv_column_priority_follows_the_candidate_order(tmp_path):
    # "text" comes before "question" and "intent" before "label" in the candidate lists
    path = write(tmp_path, "data.csv", "question,text,label,intent\nq,t,l,i\n")
    assert pairs(load_examples(path)) == [("t", "i", 2)]


def test_csv_quoted_multiline_record_reports_the_line_it_starts_on(tmp_path):
    content = 'text,label\n"first line\nsecond line\nthird",a\nnext,b\n"x, with comma",c\n'
    examples = load_examples(write(tmp_path, "data.csv", content))
    assert pairs(examples) == [
        ("first line\nsecond line\nthird", "a", 2),
        ("next", "b", 5),
        ("x, with comma", "c", 6),
    ]


def test_csv_crlf_line_endings_leave_no_carriage_return(tmp_path):
    examples = load_examples(write(tmp_path, "data.csv", "text,label\r\nhello,greet\r\nbye,bye\r\n"))
    assert pairs(examples) == [("hello", "greet", 2), ("bye", "bye", 3)]


def test_csv_blank_lines_are_skipped_but_counted(tmp_path):
    examples = load_examples(write(tmp_path, "data.csv", "text,label\n\nhello,greet\n\n\nbye,bye\n"))
    assert pairs(examples) == [("hello", "greet", 3), ("bye", "bye", 6)]


def test_csv_column_overrides(tmp_path):
    path = write(tmp_path, "data.csv", "text,label,body,kind\nt,l,my body,my kind\n")
    assert pairs(load_examples(path, text_col="body", label_col="KIND")) == [("my body", "my kind", 2)]


def test_csv_with_byte_order_mark(tmp_path):
    path = write(tmp_path, "data.csv", "\ufefftext,label\nhi,greet\n")
    assert pairs(load_examples(path)) == [("hi", "greet", 2)]


def test_tsv(tmp_path):
    path = write(tmp_path, "data.tsv", 'sentence\tcategory\nsay "hi", friend\tgreet\n退货\trefund\n')
    assert pairs(load_examples(path)) == [('say "hi", friend', "greet", 2), ("退货", "refund", 3)]


# --- JSON Lines / JSON -------------------------------------------------------------------------------


def test_jsonl_detects_keys_and_skips_blank_lines(tmp_path):
    content = '{"query": "where is my order", "category": "order_status"}\n\n{"query": "hi", "category": 7}\n'
    examples = load_examples(write(tmp_path, "data.jsonl", content))
    assert pairs(examples) == [("where is my order", "order_status", 1), ("hi", "7", 3)]


def test_jsonl_overrides(tmp_path):
    content = '{"text": "t", "label": "l", "q": "question", "a": "answer"}\n'
    assert pairs(load_examples(write(tmp_path, "d.jsonl", content), text_col="q", label_col="a")) == [
        ("question", "answer", 1)
    ]


def test_json_list_of_objects_with_line_numbers(tmp_path):
    content = (
        '[\n  {"text": "hello", "intent": "greet"},\n\n  {\n    "text": "bye",\n    "intent": "bye"\n  }\n]\n'
    )
    assert pairs(load_examples(write(tmp_path, "data.json", content))) == [
        ("hello", "greet", 2),
        ("bye", "bye", 4),
    ]


# --- YAML --------------------------------------------------------------------------------------------

RASA_NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello there
    - 你好

    - 您好，请问在吗
- synonym: savings
  examples: |
    - pink pig
- regex: order_id
  examples: |
    - [A-Z][0-9]{5}
- intent: order_status
  examples: |
    - where is my order [A12345](order_id)
    - 我的订单[A12345]{"entity": "order_id"}到哪了
- lookup: city
  examples: |
    - 上海
- intent:  goodbye
  examples: ["bye", "再见"]
"""


def test_yaml_rasa_nlu_in_chinese_and_english(tmp_path):
    examples = load_examples(write(tmp_path, "nlu.yml", RASA_NLU))
    assert pairs(examples) == [
        ("hello there", "greet", 5),
        ("你好", "greet", 6),
        ("您好，请问在吗", "greet", 8),
        ("where is my order A12345", "order_status", 17),
        ("我的订单A12345到哪了", "order_status", 18),
        ("bye", "goodbye", 23),
        ("再见", "goodbye", 23),
    ]


def test_yaml_list_form_on_separate_lines(tmp_path):
    content = "nlu:\n- intent: greet\n  examples:\n  - hi\n  - '[hey](who) you'\n"
    assert pairs(load_examples(write(tmp_path, "nlu.yaml", content))) == [
        ("hi", "greet", 4),
        ("hey you", "greet", 5),
    ]


def test_yaml_inline_annotations_become_plain_text_with_entity_spans(tmp_path):
    path = write(
        tmp_path,
        "nlu.yml",
        'nlu:\n- intent: track\n  examples: |\n    - track order [A12345](order_id) please\n'
        '    - 查一下订单[B7](order_id)\n    - plain [brackets] stay\n',
    )
    examples = load_examples(path)
    assert [e.text for e in examples] == ["track order A12345 please", "查一下订单B7", "plain [brackets] stay"]
    assert examples[0].entities == (Entity("order_id", "A12345", 12, 18, "annotation"),)
    assert examples[1].entities == (Entity("order_id", "B7", 5, 7, "annotation"),)
    assert examples[2].entities == ()


def test_jsonl_span_entities_are_read_and_checked(tmp_path):
    good = '{"text": "track A12345", "intent": "track", "entities": [{"type": "order_id", "start": 6, "end": 12}]}\n'
    assert load_examples(write(tmp_path, "a.jsonl", good))[0].entities[0].value == "A12345"
    bad = '{"text": "hi", "intent": "greet"}\n{"text": "track A1", "intent": "t", "entities": [{"type": "o", "start": 6, "end": 99}]}\n'
    with pytest.raises(DataError, match=r"b\.jsonl:2: "):
        load_examples(write(tmp_path, "b.jsonl", bad))


# --- errors ------------------------------------------------------------------------------------------


class Like(str):
    """An expected error given as a regular expression: for messages that end in the parser's own words."""


def error(case: str, name: str, content: str | bytes | None, expected: str, **columns: str):
    """One row of ERRORS: the file ``name`` holding ``content`` (None: no file), read with ``columns``
    (text_col, label_col), fails with ``expected``, where ``{path}`` stands for the file's path."""
    return pytest.param(name, content, columns, expected, id=case)


_MORE_FIELDS = "text,label\nhi,greet\nbye,goodbye\nhello, there,greet\nok,thanks\n"

ERRORS = [
    # CSV / TSV
    error("csv-override-for-a-missing-column", "data.csv", "text,label\nhi,greet\n",
          "{path}: column 'foo' not found (columns: text, label)", text_col="foo"),
    error("csv-without-a-text-column", "data.csv", "a,intent\nhi,greet\n",
          "{path}: no text column (looked for text, utterance, sentence, review, content, question, "
          "message, query; found: a, intent)"),
    error("csv-without-a-label-column", "data.csv", "text,b\nhi,greet\n",
          Like(r"no label column \(looked for intent, label, category")),
    error("csv-row-with-too-few-fields", "data.csv", "label,text\ngreet,hi\nbye\n",
          "{path}:3: expected at least 2 fields, found 1"),
    error("csv-row-with-more-fields-than-the-header", "data.csv", _MORE_FIELDS, "{path}:4: 3 fields, the header has 2"),
    error("tsv-row-with-more-fields-than-the-header", "data.tsv", _MORE_FIELDS.replace(",", "\t"),
          "{path}:4: 3 fields, the header has 2"),
    error("csv-unclosed-quote-names-the-record-line", "data.csv", 'text,label\nhi,greet\n"never closed,bye\nmore,rows\n',
          Like(r"^{path}:3: malformed record")),
    error("csv-with-only-a-header", "data.csv", "text,label\n", "{path}: no examples found"),
    # JSON Lines / JSON
    error("jsonl-line-missing-the-key", "data.jsonl", '{"text": "a", "intent": "x"}\n\n{"text": "b"}\n',
          "{path}:3: missing key 'intent'"),
    error("jsonl-invalid-json-line", "data.jsonl", '{"text": "a", "intent": "x"}\n{"text": "b", intent}\n',
          Like(r"^{path}:2: invalid JSON: ")),
    error("jsonl-line-that-is-not-an-object", "data.jsonl", '["text", "intent"]\n', "{path}:1: expected a JSON object"),
    error("jsonl-text-must-be-a-string", "data.jsonl", '{"text": "a", "intent": "x"}\n{"text": null, "intent": "y"}\n',
          Like(r"^{path}:2: value of 'text' is not a string")),
    error("json-that-is-not-a-list", "data.json", '{"text": "hello", "intent": "greet"}\n',
          "{path}:1: expected a JSON list of objects"),
    error("json-malformed", "data.json", '[\n  {"text": "a", "intent": "x"},\n  {"text": }\n]\n',
          Like(r"^{path}:3: invalid JSON: ")),
    error("json-empty-list", "data.json", "[ ]\n", Like(r"^{path}: no examples found$")),
    # YAML
    error("yaml-without-nlu-key", "nlu.yml", 'version: "3.1"\nrules: []\n', Like(r"^{path}: no 'nlu' key")),
    error("yaml-malformed", "nlu.yml", "nlu:\n- intent: greet\n  examples: [hi, there\n- intent: x\n",
          Like(r"^{path}:4: invalid YAML: ")),
    error("yaml-line-without-dash", "nlu.yml", "nlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n",
          "{path}:5: expected an example starting with '- '"),
    error("yaml-folded-examples", "nlu.yml", "nlu:\n- intent: greet\n  examples: >\n    - hi\n    - hello\n",
          Like(r"^{path}:3: 'examples' must be a '\|' block")),
    # every format
    error("missing-file", "nope.csv", None, "{path}: file not found"),
    error("empty-file", "data.jsonl", b"", "{path}: file is empty"),
    error("blank-file", "data.jsonl", b"  \n\n", "{path}: file is empty"),
    error("unknown-extension", "data.txt", "hello\n", Like(r"^{path}: unsupported file type '.txt'")),
    error("undecodable-bytes-name-line-and-column", "data.csv", "text,label\n你好,greet\n".encode() + b"ab\xffc,x\n",
          "{path}:3: not valid UTF-8 (byte 0xff at column 3)"),
    error("undecodable-bytes-after-a-byte-order-mark", "nlu.yml", b"\xef\xbb\xbfnlu:\n\xc3(\n",
          "{path}:2: not valid UTF-8 (byte 0xc3 at column 1)"),
]


@pytest.mark.parametrize(("name", "content", "columns", "expected"), ERRORS)
def test_a_file_that_cannot_be_read_is_one_line_naming_where(tmp_path, name, content, columns, expected):
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    with pytest.raises(DataError) as raised:
        load_examples(path, **columns)
    if isinstance(expected, Like):
        assert re.search(expected.format(path=re.escape(str(path))), str(raised.value))
    else:
        assert str(raised.value) == expected.format(path=path)


# --- load_dataset ------------------------------------------------------------------------------------


def test_load_dataset_returns_clean_examples_and_warnings(tmp_path):
    path = write(tmp_path, "data.csv", "text,label\nhi,greet\nhello,greet\nhi,greet\nbye,bye\nsee you,bye\n")
    examples, warnings = load_dataset(path)
    assert pairs(examples) == [
        ("hi", "greet", 2),
        ("hello", "greet", 3),
        ("bye", "bye", 5),
        ("see you", "bye", 6),
    ]
    assert [warning.located() for warning in warnings] == [f"{path}:4: duplicate of line 2 (skipped)"]


def test_load_dataset_raises_on_errors(tmp_path):
    path = write(tmp_path, "data.csv", "text,label\nhi,greet\nhello,greet\n")
    with pytest.raises(DataError) as raised:
        load_dataset(path)
    assert str(raised.value) == f"{path}: need at least two labels, found 1 ('greet')"


def test_load_dataset_strict_turns_warnings_into_errors(tmp_path):
    path = write(
        tmp_path, "data.csv", "text,label\nhi,greet\nhi,greet\n ,greet\nhey,greet\nbye,bye\nciao,bye\n"
    )
    assert len(load_dataset(path)[1]) == 2
    with pytest.raises(DataError) as raised:
        load_dataset(path, strict=True)
    assert str(raised.value) == f"{path}:3: duplicate of line 2 (skipped) (+1 more)"


def test_load_dataset_min_per_label(tmp_path):
    path = write(tmp_path, "data.csv", "text,label\nhi,greet\nhello,greet\nbye,bye\n")
    examples, warnings = load_dataset(path, min_per_label=1)
    assert (len(examples), warnings) == (3, [])
    examples, warnings = load_dataset(path)
    assert len(examples) == 3
    assert [warning.located() for warning in warnings] == [f"{path}:4: label 'bye' has only 1 example (minimum 2)"]
