"""Read the texts of a CSV, TSV, JSON Lines or plain-text file one record at a time (batch prediction).

:mod:`kefu.data.loaders` reads a whole file, because a data set is checked as a whole; a file to predict
on may be larger than memory, so here nothing is held but the record being read. The columns are found
as the loaders find them, and every problem is a one-line :class:`DataError` starting with "path:line:".
"""

import codecs
import csv
import json
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kefu.data.loaders import TEXT_COLUMNS, _find_column, too_many_fields
from kefu.errors import DataError

ID_COLUMN = "id"
STREAMED = (".csv", ".tsv", ".jsonl", ".txt")
# With ``on_error``, a quoted CSV field still open after this many lines is taken for a quote never closed.
MAX_RECORD_LINES = 100


@dataclass(frozen=True)
class Row:
    """One text to predict: where it starts in the file, its id (``has_id``: the file has an id column),
    how many bytes of the file have been read once it was (for a progress bar) and the values of the
    other columns asked for (``stream_rows(extra=...)``)."""

    line: int
    text: str
    id: Any = None
    has_id: bool = False
    bytes_read: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # role -> value of the columns asked for by role


OnError = Callable[[int, str], None]  # (line, reason)


class RowStream(Iterator[Row]):
    """The rows of a file, read as they are asked for, and ``columns``: once the header (or the first
    JSON object) has been read, the column or key found for each role ("text", "id", and those asked
    for in ``extra``), None for a role the file has no column for."""

    def __init__(self, rows: Iterator[Row], columns: dict[str, str | None]) -> None:
        self._rows, self.columns = rows, columns

    def __next__(self) -> Row:
        return next(self._rows)


def stream_rows(
    path: str | Path,
    text_col: str | None = None,
    id_col: str | None = None,
    *,
    text_names: Sequence[str] = TEXT_COLUMNS,
    id_names: Sequence[str] = (ID_COLUMN,),
    extra: Mapping[str, tuple[str | None, Sequence[str]]] | None = None,
    on_error: OnError | None = None,
) -> RowStream:
    """Yield each non-blank record of ``path`` as a :class:`Row`, in file order.

    ``.csv``/``.tsv`` need a header row and ``.jsonl`` holds one object per line; their text column (key)
    is detected by name (the first of ``text_names`` the file has) unless ``text_col`` names it, and a
    column named ``id`` (or ``id_col``, or the first of ``id_names``) is passed through as the row's id.
    ``.txt`` is one text per line. ``extra`` asks for more columns by role, e.g. ``{"time": (None,
    ("created_at", "date"))}``: the column named first (an error if missing), else the first candidate
    the file has, else none; each row's ``extra`` holds the value of each role found (None where a JSON
    object lacks the key). A bare CR inside a CSV field is part of the field, quoted or not.

    A bad record ends the stream with a one-line :class:`DataError`, unless ``on_error`` is given: then
    ``on_error(line, reason)`` is called and the record skipped (invalid UTF-8 or JSON, a missing or
    non-string text, a CSV record with another number of fields than the header, a quote that is never
    closed: the lines after it are then read again). A file without a text column is an error either way.
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
    problems = _Problems(source, on_error)
    lines = _Lines(path, source, problems)
    if suffix == ".txt":
        return RowStream(_text_rows(lines), {})
    wanted = {"text": (text_col, tuple(text_names)), "id": (id_col, tuple(id_names))} | dict(extra or {})
    columns: dict[str, str | None] = {}
    if suffix == ".jsonl":
        return RowStream(_json_rows(lines, source, wanted, problems, columns), columns)
    delimiter = "\t" if suffix == ".tsv" else ","
    return RowStream(_delimited_rows(lines, source, wanted, problems, columns, delimiter), columns)


class _Problems:
    """A bad record: a DataError "path:line: reason", or with ``on_error``, reported and skipped."""

    def __init__(self, source: str, on_error: OnError | None) -> None:
        self.source, self.on_error = source, on_error
        self.skipping = on_error is not None

    def __call__(self, line: int, reason: str) -> None:
        if self.on_error is None:
            raise DataError(f"{self.source}:{line}: {reason}")
        self.on_error(line, reason)


class _Lines:
    """The file's lines, decoded one by one (so a bad byte is reported with its line), counting bytes read.

    Lines end at "\\n" only, as the loaders count them."""

    def __init__(self, path: Path, source: str, problems: _Problems) -> None:
        self.path, self.source, self.problems = path, source, problems
        self.number = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[str]:
        try:
            with self.path.open("rb") as file:
                for raw in file:
                    self.number += 1
                    self.bytes_read += len(raw)
                    text = self._decoded(raw.removeprefix(codecs.BOM_UTF8) if self.number == 1 else raw)
                    if text is not None:
                        yield text
        except OSError as error:
            raise DataError(f"{self.source}: cannot read file ({error.strerror})") from None

    def _decoded(self, raw: bytes) -> str | None:
        """The line as text; None for a line that is not UTF-8 (reported, and skipped with ``on_error``)."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            column = len(raw[: error.start].decode("utf-8")) + 1
            reason = f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {column})"
        self.problems(self.number, reason)
        return None


def _text_rows(lines: _Lines) -> Iterator[Row]:
    for raw in lines:
        text = raw.rstrip("\r\n")
        if text.strip():
            yield Row(lines.number, text, bytes_read=lines.bytes_read)


def _detect(
    where: str, names: list[str], wanted: dict[str, tuple[str | None, tuple[str, ...]]], kind: str
) -> dict[str, str | None]:
    """The column (key) for each role: the text's must exist; the others' only where the caller named one."""
    found: dict[str, str | None] = {}
    for role, (name, candidates) in wanted.items():
        if role == "text":
            found[role] = _find_column(where, names, name, candidates, "text", kind)
        elif name is not None:
            found[role] = _find_column(where, names, name, (), role, kind)
        else:
            found[role] = next((n for c in candidates for n in names if n.strip().lower() == c), None)
    return found


class _RecordTooLong(Exception):
    """A quoted field has run over MAX_RECORD_LINES lines."""


# The csv module ends a record at any CR, even inside an unquoted field ("new-line character seen in
# unquoted field"), though a CR not followed by LF ends no line here: while a record is read, such a CR
# stands in as a private-use character, turned back into CR in the fields.
_BARE_CR = re.compile(r"\r(?!\n|\Z)")
_CR_STAND_IN = "\ue000"


class _Records:
    """The lines the csv reader reads: notes the line each record starts on and, when bad records are
    skipped, keeps the lines of the record being read, so those after a quote never closed can be read
    again as records of their own."""

    def __init__(self, lines: _Lines, keep: bool) -> None:
        self.lines, self.source, self.keep = lines, iter(lines), keep
        self.again: deque[tuple[int, str]] = deque()
        self.current: list[tuple[int, str]] = []
        self.start, self.fresh = 1, True  # first line of the record being read; none of it read yet
        self.bare_cr = False  # whether the record being read had a bare CR replaced
        # replace bare CRs, after the header only: a file whose lines end with CR alone stays an error
        self.protect = False

    def __iter__(self) -> "_Records":
        return self

    def __next__(self) -> str:
        if self.again:
            number, text = self.again.popleft()
        else:
            text, number = next(self.source), self.lines.number
        if self.fresh:
            self.start, self.fresh = number, False
        if self.keep:
            self.current.append((number, text))
            if len(self.current) > MAX_RECORD_LINES:
                raise _RecordTooLong
        if self.protect and "\r" in text:
            protected = _BARE_CR.sub(_CR_STAND_IN, text)
            self.bare_cr |= protected != text
            text = protected
        return text

    def next_record(self) -> None:
        self.fresh, self.bare_cr = True, False
        self.current.clear()

    def read_again(self) -> None:
        """Read the lines after the current record's first line again, as new records."""
        self.again.extendleft(reversed(self.current[1:]))
        self.next_record()


def _delimited_rows(
    lines: _Lines,
    source: str,
    wanted: dict,
    problems: _Problems,
    columns: dict[str, str | None],
    delimiter: str,
) -> Iterator[Row]:
    records = _Records(lines, keep=problems.skipping)
    width, index = 0, None  # the header's number of fields; role -> field index
    while True:
        try:
            for fields in csv.reader(records, delimiter=delimiter, strict=True):
                start, bare_cr = records.start, records.bare_cr
                records.next_record()
                if not any(field.strip() for field in fields):
                    continue
                if bare_cr:
                    fields = [field.replace(_CR_STAND_IN, "\r") for field in fields]
                if index is None:
                    columns.update(_detect(source, fields, wanted, "column"))
                    width = len(fields)
                    index = {role: fields.index(name) for role, name in columns.items() if name is not None}
                    records.protect = True
                    continue
                row = _delimited_row(problems, start, fields, width, index, lines.bytes_read)
                if row is not None:
                    yield row
            return
        except csv.Error as error:
            reason = f"malformed record: {error}"
        except _RecordTooLong:
            reason = f"malformed record: a quoted field runs over {MAX_RECORD_LINES} lines"
        start = records.start
        if len(records.current) > 1:  # (kept only when skipping) most likely a quote that is never closed:
            reason += " (a quote opened on this line is never closed?)"
            records.read_again()  # the lines after this one are records of their own
        else:
            records.next_record()
        problems(start, reason)


def _delimited_row(
    problems: _Problems, line: int, fields: list[str], width: int, index: dict[str, int], read: int
) -> Row | None:
    if problems.skipping and len(fields) != width:
        problems(line, f"expected {width} fields as in the header, found {len(fields)}")
        return None
    needed = max(index.values()) + 1
    reason = too_many_fields(len(fields), width)
    if len(fields) < needed:
        reason = f"expected at least {needed} fields, found {len(fields)}"
    if reason is not None:
        problems(line, reason)
        return None
    text = fields[index["text"]].removesuffix("\r")
    extra = {role: fields[i] for role, i in index.items() if role not in ("text", "id")}
    if "id" not in index:
        return Row(line, text, bytes_read=read, extra=extra)
    return Row(line, text, fields[index["id"]], True, read, extra)


def _json_rows(
    lines: _Lines, source: str, wanted: dict, problems: _Problems, columns: dict[str, str | None]
) -> Iterator[Row]:
    keys = None
    for raw in lines:
        if not raw.strip():
            continue
        line = lines.number
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as error:
            reason = f"invalid JSON: {error.msg} (column {error.colno})"
            item = None
        else:
            reason = None if isinstance(item, dict) else "expected a JSON object"
        if reason is None and keys is None:
            columns.update(_detect(f"{source}:{line}", list(item), wanted, "key"))
            keys = {role: key for role, key in columns.items() if key is not None}
        if reason is None:
            text_key = keys["text"]
            if text_key not in item:
                reason = f"missing key {text_key!r}"
            elif not isinstance(item[text_key], str):
                reason = f"value of {text_key!r} is not a string"
        if reason is not None:
            problems(line, reason)
            continue
        text = item[text_key].removesuffix("\r")
        extra = {role: item.get(key) for role, key in keys.items() if role not in ("text", "id")}
        if "id" not in keys:
            yield Row(line, text, bytes_read=lines.bytes_read, extra=extra)
        else:
            yield Row(line, text, item.get(keys["id"]), True, lines.bytes_read, extra)
