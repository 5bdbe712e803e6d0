"""Read the texts of a CSV, TSV, JSON Lines or plain-text file one record at a time (batch prediction).

:mod:`kefu.data.loaders` reads a whole file, because a data set is checked as a whole; a file to predict
on may be larger than memory, so here nothing is held but the record being read. The columns are found
as the loaders find them, and every problem is a one-line :class:`DataError` starting with "path:line:".
"""

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kefu.data.loaders import TEXT_COLUMNS, _find_column
from kefu.errors import DataError

ID_COLUMN = "id"
STREAMED = (".csv", ".tsv", ".jsonl", ".txt")


@dataclass(frozen=True)
class Row:
    """One text to predict: where it starts in the file, its id (``has_id``: the file has an id column)
    and how many bytes of the file have been read once it was (for a progress bar)."""

    line: int
    text: str
    id: Any = None
    has_id: bool = False
    bytes_read: int = 0


def stream_rows(path: str | Path, text_col: str | None = None, id_col: str | None = None) -> Iterator[Row]:
    """Yield each non-blank record of ``path`` as a :class:`Row`, in file order.

    ``.csv``/``.tsv`` need a header row and ``.jsonl`` holds one object per line; their text column (key)
    is detected by name unless ``text_col`` names it, and a column named ``id`` (or ``id_col``) is passed
    through as the row's id. ``.txt`` is one text per line.
    """
    source, path = str(path), Path(path)
    suffix = path.suffix.lower()
    if suffix not in STREAMED:
        hint = " (a JSON list cannot be read piece by piece: write one object a line, .jsonl)"
        raise DataError(
            f"{source}: cannot predict on '{path.suffix or path.name}' files; use {', '.join(STREAMED)}"
            + (hint if suffix == ".json" else "")
        )
    if not path.is_file():
        raise DataError(f"{source}: file not found")
    lines = _Lines(path, source)
    if suffix == ".txt":
        return _text_rows(lines)
    if suffix == ".jsonl":
        return _json_rows(lines, source, text_col, id_col)
    return _delimited_rows(lines, source, text_col, id_col, "\t" if suffix == ".tsv" else ",")


class _Lines:
    """The file's lines, decoded one by one (so a bad byte is reported with its line), counting bytes read.

    Lines end at "\\n" only, as the loaders count them."""

    def __init__(self, path: Path, source: str) -> None:
        self.path, self.source = path, source
        self.number = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[str]:
        try:
            with self.path.open("rb") as file:
                for raw in file:
                    self.number += 1
                    self.bytes_read += len(raw)
                    yield self._decoded(raw.removeprefix(codecs.BOM_UTF8) if self.number == 1 else raw)
        except OSError as error:
            raise DataError(f"{self.source}: cannot read file ({error.strerror})") from None

    def _decoded(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            column = len(raw[: error.start].decode("utf-8")) + 1
            raise DataError(
                f"{self.source}:{self.number}: not valid UTF-8 "
                f"(byte 0x{raw[error.start]:02x} at column {column})"
            ) from None


def _text_rows(lines: _Lines) -> Iterator[Row]:
    for raw in lines:
        text = raw.rstrip("\r\n")
        if text.strip():
            yield Row(lines.number, text, bytes_read=lines.bytes_read)


def _id_column(where: str, names: list[str], id_col: str | None, kind: str) -> str | None:
    if id_col is not None:
        return _find_column(where, names, id_col, (), "id", kind)
    return next((name for name in names if name.strip().lower() == ID_COLUMN), None)


def _delimited_rows(
    lines: _Lines, source: str, text_col: str | None, id_col: str | None, delimiter: str
) -> Iterator[Row]:
    reader = csv.reader(iter(lines), delimiter=delimiter, strict=True)
    start, columns = 1, None
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                if columns is None:
                    text_name = _find_column(source, fields, text_col, TEXT_COLUMNS, "text", "column")
                    id_name = _id_column(source, fields, id_col, "column")
                    columns = fields.index(text_name), fields.index(id_name) if id_name is not None else None
                else:
                    yield _delimited_row(source, start, fields, *columns, lines.bytes_read)
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{source}:{start}: malformed record: {error}") from None


def _delimited_row(source: str, line: int, fields: list[str], text: int, id_: int | None, read: int) -> Row:
    needed = max(text, -1 if id_ is None else id_) + 1
    if len(fields) < needed:
        raise DataError(f"{source}:{line}: expected at least {needed} fields, found {len(fields)}")
    if id_ is None:
        return Row(line, fields[text].removesuffix("\r"), bytes_read=read)
    return Row(line, fields[text].removesuffix("\r"), fields[id_], True, read)


def _json_rows(lines: _Lines, source: str, text_col: str | None, id_col: str | None) -> Iterator[Row]:
    keys = None
    for raw in lines:
        if not raw.strip():
            continue
        where = f"{source}:{lines.number}"
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: invalid JSON: {error.msg} (column {error.colno})") from None
        if not isinstance(item, dict):
            raise DataError(f"{where}: expected a JSON object")
        if keys is None:
            names = list(item)
            keys = (
                _find_column(where, names, text_col, TEXT_COLUMNS, "text", "key"),
                _id_column(where, names, id_col, "key"),
            )
        text_key, id_key = keys
        if text_key not in item:
            raise DataError(f"{where}: missing key {text_key!r}")
        if not isinstance(item[text_key], str):
            raise DataError(f"{where}: value of {text_key!r} is not a string")
        text = item[text_key].removesuffix("\r")
        if id_key is None:
            yield Row(lines.number, text, bytes_read=lines.bytes_read)
        else:
            yield Row(lines.number, text, item.get(id_key), True, lines.bytes_read)
