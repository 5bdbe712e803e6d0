"""`kefu predict DIR --file IN --out OUT`: every row predicted, in order, batch by batch, in constant memory."""

import csv
import json
import tracemalloc

import pytest
from typer.testing import CliRunner

from kefu.cli import app
from kefu.data.stream import stream_rows
from kefu.errors import DataError
from kefu.nlu import batch
from kefu.nlu.batch import predict_file
from kefu.nlu.model import Prediction

runner = CliRunner()
TEXTS = ["where is my order", "我要退款", "hello", "退款什么时候到账", "track my package", "good morning"]


def _write_csv(path, rows: int, *, header=("id", "question")) -> list[str]:
    texts = [f"{TEXTS[n % len(TEXTS)]} {n}" for n in range(rows)]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows([f"q{n}", text] for n, text in enumerate(texts))
    return texts


def test_csv_in_jsonl_out_keeps_every_row_in_order_with_its_id(tmp_path, saved_model, tiny_model):
    source, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    texts = _write_csv(source, 300)
    result = runner.invoke(app, ["predict", str(saved_model), "--file", str(source), "--out", str(out), "--batch-size", "64"])
    assert result.exit_code == 0, result.output
    assert "wrote 300 predictions" in result.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [f"q{n}" for n in range(300)]
    assert [line["text"] for line in lines] == texts
    expected = tiny_model.predict(texts[:10])
    assert [line["intent"] for line in lines[:10]] == [p.intent for p in expected]
    assert set(lines[0]) == {"id"} | set(expected[0].to_dict())


def test_jsonl_in_csv_out_with_named_columns(tmp_path, saved_model):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.csv"
    items = [{"ticket": n, "message": TEXTS[n % len(TEXTS)]} for n in range(70)]
    lines = [json.dumps(item, ensure_ascii=False) for item in items]
    lines.insert(5, "")  # blank lines are skipped, as the loaders skip them
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    arguments = ["--file", str(source), "--out", str(out), "--text-col", "message", "--id-col", "ticket"]
    result = runner.invoke(app, ["predict", str(saved_model), *arguments, "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["id"]) for row in rows] == list(range(70))
    assert [row["text"] for row in rows] == [item["message"] for item in items]
    assert list(rows[0])[:3] == ["id", "text", "intent"]
    assert json.loads(rows[0]["ranking"])[0]["intent"] == rows[0]["intent"]


def test_text_files_and_no_id_column(tmp_path, saved_model):
    source, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("hello\r\n\n我要退款\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(saved_model), "--file", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["text"] for line in lines] == ["hello", "我要退款"]
    assert "id" not in lines[0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", 'id,text\n1,hello\n2,"never closed\n3,ok\n', "bad.csv:3: malformed record"),
        ("short.csv", "text,id\nhello,1\nhi\n", "short.csv:3: expected at least 2 fields, found 1"),
        ("long.csv", "id,text\n1,hello\n2,hi, there\n", "long.csv:3: 3 fields, the header has 2"),
        ("bad.jsonl", '{"text": "hello"}\n\n{"text": "hi",}\n', "bad.jsonl:3: invalid JSON"),
        ("number.jsonl", '{"text": "hello"}\n{"text": 7}\n', "number.jsonl:2: value of 'text' is not a string"),
        ("latin1.txt", "hello\nhi\ncaf\xe9\n", "latin1.txt:3: not valid UTF-8 (byte 0xe9 at column 4)"),
        ("nocol.csv", "ticket,body\n1,hello\n", "nocol.csv: no text column"),
    ],
)
def test_a_bad_line_is_one_error_line_with_file_and_line_and_no_output(tmp_path, saved_model, name, content, message):
    source, out = tmp_path / name, tmp_path / "out.jsonl"
    source.write_bytes(content.encode("latin-1" if name == "latin1.txt" else "utf-8"))
    result = runner.invoke(app, ["predict", str(saved_model), "--file", str(source), "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not [path for path in tmp_path.iterdir() if "out" in path.name]  # nor a partial file


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--file", "in.json", "--out", "o.jsonl"], "use .csv, .tsv, .jsonl, .txt"),
        (["--file", "in.csv", "--out", "o.parquet"], "write predictions to a .jsonl or .csv file"),
        (["--file", "in.csv"], "--file needs --out"),
        (["--out", "o.jsonl", "hello"], "go with --file"),
        (["--file", "in.csv", "--out", "o.jsonl", "--explain"], "--explain"),
        (["--file", "missing.csv", "--out", "o.jsonl"], "missing.csv: file not found"),
    ],
)
def test_wrong_arguments_are_one_clear_line(tmp_path, saved_model, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.json").write_text("[]")
    _write_csv(tmp_path / "in.csv", 3)
    result = runner.invoke(app, ["predict", str(saved_model), *arguments])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


class Spy:
    """A model that records how many texts each call got, and how far the reader had got by then."""

    def __init__(self, model=None):
        self.model, self.calls = model, []
        self.read = 0

    def predict(self, texts):
        self.calls.append((len(texts), self.read))
        if self.model is not None:
            return self.model.predict(texts)
        return [Prediction(text, "greet", 1.0) for text in texts]


def test_the_file_streams_through_in_bounded_batches(tmp_path, monkeypatch, tiny_model):
    source, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    _write_csv(source, 1000)
    spy = Spy(tiny_model)

    def counted(*args, **kwargs):
        for row in stream_rows(*args, **kwargs):
            spy.read += 1
            yield row

    monkeypatch.setattr(batch, "stream_rows", counted)
    assert predict_file(spy, source, out, batch_size=64) == 1000
    assert [size for size, _ in spy.calls] == [64] * 15 + [40]
    # when a batch is predicted, the reader has read that batch and nothing after it
    done = 0
    for size, read in spy.calls:
        assert read == done + size
        done += size
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1000


def test_the_reader_reads_only_as_far_as_it_is_asked(tmp_path):
    source = tmp_path / "in.csv"
    _write_csv(source, 5000)
    with source.open("a", encoding="utf-8") as file:
        file.write('q,"broken\n')
    rows = stream_rows(source)
    first = next(rows)  # the broken last record is not reached yet
    assert (first.line, first.id, first.has_id) == (2, "q0", True)
    assert first.bytes_read < source.stat().st_size / 100
    with pytest.raises(DataError, match=r"in.csv:5002: malformed record"):
        list(rows)


def test_memory_does_not_grow_with_the_file(tmp_path):
    def peak(rows: int) -> int:
        source = tmp_path / f"in{rows}.csv"
        _write_csv(source, rows)
        tracemalloc.start()
        predict_file(Spy(), source, tmp_path / f"out{rows}.jsonl", batch_size=100)
        _, most = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return most

    small, large = peak(2_000), peak(20_000)
    assert large < small * 1.5, (small, large)
