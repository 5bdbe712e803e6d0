"""Predict every text of a large file, batch by batch, in constant memory (``kefu predict DIR --file``).

Rows are read, predicted and written a batch at a time: memory holds one batch whatever the file's size.
The output is written to a hidden file beside OUT and renamed to it at the end, so a run stopped by a
bad line or Ctrl-C never leaves a half-written OUT that looks complete.
"""

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from kefu.data.stream import Row, stream_rows
from kefu.errors import DataError
from kefu.nlu.model import Prediction

# Texts read and predicted per round: the model sorts a round by length into encoder passes of similar
# length (see kefu.nlu.model.ENCODER_BATCH), so a bigger round pads less; 1,024 short texts are a few MB.
BATCH_SIZE = 1024
CSV_COLUMNS = [
    "text", "intent", "confidence", "oos", "oos_score", "sentiment", "sentiment_score", "entities", "ranking"
]


class Predictor(Protocol):
    def predict(self, texts: list[str]) -> list[Prediction]: ...


Write = Callable[[Row, Prediction], None]


def predict_file(
    model: Predictor,
    source: str | Path,
    out: str | Path,
    *,
    batch_size: int = BATCH_SIZE,
    text_col: str | None = None,
    id_col: str | None = None,
    progress: bool = False,
) -> int:
    """Write the prediction of every text in ``source`` (CSV, TSV, JSONL or TXT, see
    :func:`kefu.data.stream.stream_rows`) to ``out``, in input order; returns the number of rows.

    ``out`` ending in ``.jsonl`` gets one ``Prediction.to_dict()`` a line, ``.csv`` one row per text with
    the entities and the ranking as JSON; both start with the input's ``id`` when it has an id column.
    """
    out = Path(out)
    start_writer = _WRITERS.get(out.suffix.lower())
    if start_writer is None:
        raise DataError(f"{out}: write predictions to a .jsonl or .csv file")
    if not out.parent.is_dir():
        raise DataError(f"{out}: folder {out.parent} does not exist")
    rows = stream_rows(source, text_col, id_col)
    partial = out.with_name(f".{out.name}.partial")
    written = 0
    try:
        with partial.open("w", encoding="utf-8", newline="") as file, ByteProgress(source, progress) as bar:
            write = None
            for batch in batches(rows, batch_size):
                if write is None:  # the header has been read: whether there is an id column is known
                    write = start_writer(file, batch[0].has_id)
                for row, prediction in zip(batch, model.predict([row.text for row in batch]), strict=True):
                    write(row, prediction)
                written += len(batch)
                bar(batch[-1].bytes_read, written)
            if write is None:
                raise DataError(f"{source}: no texts found")
        partial.replace(out)
    except OSError as error:
        raise DataError(f"{out}: cannot write ({error.strerror})") from None
    finally:
        partial.unlink(missing_ok=True)
    return written


def batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """``rows`` in lists of ``size`` (the last one shorter), taking from the iterator only what each needs."""
    rows = iter(rows)
    while batch := list(islice(rows, size)):
        yield batch


def _jsonl_writer(file: TextIO, with_id: bool) -> Write:
    def write(row: Row, prediction: Prediction) -> None:
        record = ({"id": row.id} if with_id else {}) | prediction.to_dict()
        file.write(json.dumps(record, ensure_ascii=False) + "\n")

    return write


def _csv_writer(file: TextIO, with_id: bool) -> Write:
    writer = csv.writer(file)
    writer.writerow((["id"] if with_id else []) + CSV_COLUMNS)

    def write(row: Row, prediction: Prediction) -> None:
        p = prediction.to_dict()
        sentiment = p["sentiment"] or {}
        values = [p["text"], p["intent"], p["confidence"], p["oos"], p["oos_score"]]
        values += [sentiment.get("label", ""), sentiment.get("score", "")]
        values += [json.dumps(p[key], ensure_ascii=False) for key in ("entities", "ranking")]
        writer.writerow(([row.id] if with_id else []) + values)

    return write


_WRITERS: dict[str, Callable[[TextIO, bool], Write]] = {".jsonl": _jsonl_writer, ".csv": _csv_writer}


class ByteProgress:
    """A progress bar on stderr over the input's bytes (its row count is unknown until it is read)."""

    def __init__(self, source: str | Path, enabled: bool, label: str = "predicting") -> None:
        self.total = Path(source).stat().st_size
        console = Console(stderr=True)
        self.progress = Progress(
            TextColumn(label, markup=False),
            BarColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=console,
            # a bar only where someone watches it: redirected, it would add lines around an error's one
            disable=not (enabled and console.is_terminal),
            transient=True,  # the command's summary line replaces it
        )
        self.task = self.progress.add_task("predict", total=self.total, rows=0)

    def __enter__(self) -> Callable[[int, int], None]:
        self.progress.start()
        return lambda done, rows: self.progress.update(self.task, completed=done, rows=rows)

    def __exit__(self, *_) -> None:
        self.progress.stop()
