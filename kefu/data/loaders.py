"""Read labelled examples from CSV, TSV, JSON Lines, JSON and Rasa-style YAML files.

Every problem is raised as a one-line :class:`DataError` that starts with the path (and the line, when
one is to blame), so the CLI can print it as is.
"""

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from kefu.data.examples import Example
from kefu.data.validation import clean, validate
from kefu.entities.annotations import from_span_json, parse_inline
from kefu.entities.spans import Entity
from kefu.errors import DataError
from kefu.problems import Problem, errors_only
from kefu.yaml_lines import yaml_problem

TEXT_COLUMNS = ("text", "utterance", "sentence", "review", "content", "question", "message", "query")
LABEL_COLUMNS = ("intent", "label", "category", "class", "topic", "sentiment")

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")

Reader = Callable[[str, str, str | None, str | None], list[Example]]


def load_examples(
    path: str | Path, text_col: str | None = None, label_col: str | None = None
) -> list[Example]:
    """Read every example of a data file; the format follows the extension.

    ``.csv``/``.tsv`` need a header row, ``.jsonl`` holds one object per line and ``.json`` a list of
    objects; for these the text and label columns (keys) are detected by name unless ``text_col`` or
    ``label_col`` name them. ``.yml``/``.yaml`` is a Rasa-style ``nlu:`` file, whose structure fixes
    the columns, so the overrides do not apply to it.
    """
    source = str(path)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{source}: file not found")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(
            f"{source}: unsupported file type '{path.suffix or path.name}' (expected {', '.join(_READERS)})"
        )
    text = _read_text(path, source)
    if not text.strip():
        raise DataError(f"{source}: file is empty")
    examples = reader(text, source, text_col, label_col)
    if not examples:
        raise DataError(f"{source}: no examples found")
    return examples


def load_dataset(
    path: str | Path,
    text_col: str | None = None,
    label_col: str | None = None,
    min_per_label: int = 2,
    strict: bool = False,
) -> tuple[list[Example], list[Problem]]:
    """Load, validate and clean a data file; return the usable examples and the warnings about the rest.

    Error-level issues raise :class:`DataError`; with ``strict`` so do warnings.
    """
    return check_examples(load_examples(path, text_col, label_col), str(path), min_per_label, strict)


def check_examples(
    examples: list[Example],
    source: str,
    min_per_label: int = 2,
    strict: bool = False,
    also: Callable[[list[Example]], list[Problem]] | None = None,
) -> tuple[list[Example], list[Problem]]:
    """Validate and clean examples as :func:`load_dataset` does a file's; ``source`` names the data set in
    problems about it as a whole, and ``also`` checks what a caller needs besides."""
    issues = validate(examples, min_per_label=min_per_label, source=source) + (also(examples) if also else [])
    errors = errors_only(issues)
    if errors:
        raise DataError(str(errors[0]))
    warnings = [issue for issue in issues if issue.is_warning]
    if strict and warnings:
        more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
        raise DataError(f"{warnings[0].located()}{more}")
    return clean(examples, issues), warnings


def _read_text(path: Path, source: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{source}: cannot read file ({error.strerror})") from None
    if not data:
        raise DataError(f"{source}: file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # error.object is what the codec saw (the BOM already removed), so offsets are relative to it
        data, start = error.object, error.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        # everything before the first bad byte decoded fine, so the column can be counted in characters
        column = len(data[line_start:start].decode("utf-8")) + 1
        raise DataError(
            f"{source}:{line}: not valid UTF-8 (byte 0x{data[start]:02x} at column {column})"
        ) from None


def _find_column(
    where: str, names: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, kind: str
) -> str:
    """Return the header name (as spelled in the file) to use for ``role``; matching ignores case."""
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.strip().lower(), name)
    if wanted is not None:
        found = by_lower.get(wanted.strip().lower())
        if found is None:
            raise DataError(f"{where}: {kind} {wanted!r} not found ({kind}s: {', '.join(names)})")
        return found
    for candidate in candidates:
        if candidate in by_lower:
            return by_lower[candidate]
    raise DataError(
        f"{where}: no {role} {kind} (looked for {', '.join(candidates)}; found: {', '.join(names)})"
    )


def _read_delimited(
    text: str, source: str, text_col: str | None, label_col: str | None, delimiter: str
) -> list[Example]:
    records = delimited_records(text, source, delimiter)
    first = next(records, None)
    if first is None:
        return []
    header = first[1]
    text_index = header.index(_find_column(source, header, text_col, TEXT_COLUMNS, "text", "column"))
    label_index = header.index(_find_column(source, header, label_col, LABEL_COLUMNS, "label", "column"))
    needed = max(text_index, label_index) + 1
    examples = []
    for line, row in records:
        if len(row) < needed:
            raise DataError(f"{source}:{line}: expected at least {needed} fields, found {len(row)}")
        examples.append(Example(row[text_index].removesuffix("\r"), row[label_index].strip(), source, line))
    return examples


def too_many_fields(found: int, width: int) -> str | None:
    """Why a record of ``found`` fields under a header of ``width`` is refused, if it is: an unquoted
    delimiter in a text would otherwise shift a part of it into no column, silently."""
    return f"{found} fields, the header has {width}" if found > width else None


def delimited_records(text: str, source: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line where the record starts, fields) for each non-blank record, the header first; a
    DataError for a record with more fields than the header."""
    # newline="\n" so that a "line" is what the UTF-8 error and YAML line numbers count too
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter, strict=True)
    start, width = 1, None
    try:
        for row in reader:
            if any(field.strip() for field in row):
                width = len(row) if width is None else width
                reason = too_many_fields(len(row), width)
                if reason is not None:
                    raise DataError(f"{source}:{start}: {reason}")
                yield start, row
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{source}:{start}: malformed record: {error}") from None


def _read_json_lines(text: str, source: str) -> Iterator[tuple[int, Any]]:
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            yield line, json.loads(raw)
        except json.JSONDecodeError as error:
            raise DataError(f"{source}:{line}: invalid JSON: {error.msg} (column {error.colno})") from None


def _read_json_array(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """Walk a top-level JSON list item by item so each object's line number is known."""
    decoder = json.JSONDecoder()
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    def skip_space(pos: int) -> int:
        return _JSON_WHITESPACE.match(text, pos).end()

    pos = skip_space(0)
    if text[pos] != "[":
        raise DataError(f"{source}:{line_at(pos)}: expected a JSON list of objects")
    pos = skip_space(pos + 1)
    while not text.startswith("]", pos):
        try:
            item, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            raise DataError(f"{source}:{error.lineno}: invalid JSON: {error.msg}") from None
        yield line_at(pos), item
        pos = skip_space(end)
        if text.startswith(",", pos):
            pos = skip_space(pos + 1)  # a trailing comma before ']' is tolerated: it loses nothing
        elif not text.startswith("]", pos):
            raise DataError(f"{source}:{line_at(pos)}: invalid JSON: expected ',' or ']'")
    pos = skip_space(pos + 1)
    if pos < len(text):
        raise DataError(f"{source}:{line_at(pos)}: invalid JSON: extra data after the list")


def _examples_from_objects(
    items: Iterable[tuple[int, Any]], source: str, text_col: str | None, label_col: str | None
) -> list[Example]:
    keys: tuple[str, str] | None = None
    examples = []
    for line, item in items:
        if not isinstance(item, dict):
            raise DataError(f"{source}:{line}: expected a JSON object")
        if keys is None:
            where, names = f"{source}:{line}", list(item)
            keys = (
                _find_column(where, names, text_col, TEXT_COLUMNS, "text", "key"),
                _find_column(where, names, label_col, LABEL_COLUMNS, "label", "key"),
            )
        text_key, label_key = keys
        for key in keys:
            if key not in item:
                raise DataError(f"{source}:{line}: missing key {key!r}")
        text, label = item[text_key], item[label_key]
        if not isinstance(text, str):
            raise DataError(f"{source}:{line}: value of {text_key!r} is not a string")
        # numeric class ids are common in exported data sets; anything else is a mistake
        if isinstance(label, int) and not isinstance(label, bool):
            label = str(label)
        if not isinstance(label, str):
            raise DataError(f"{source}:{line}: value of {label_key!r} is not a string")
        entities: tuple[Entity, ...] = ()
        if item.get("entities"):
            text, spans = from_span_json(item | {"text": text}, source, line)
            entities = tuple(spans)
        examples.append(Example(text.removesuffix("\r"), label.strip(), source, line, entities))
    return examples


def _read_jsonl(text: str, source: str, text_col: str | None, label_col: str | None) -> list[Example]:
    return _examples_from_objects(_read_json_lines(text, source), source, text_col, label_col)


def _read_json(text: str, source: str, text_col: str | None, label_col: str | None) -> list[Example]:
    return _examples_from_objects(_read_json_array(text, source), source, text_col, label_col)


def _read_yaml(text: str, source: str, text_col: str | None, label_col: str | None) -> list[Example]:
    # YAML's nodes, not its loaded values (see kefu.yaml_lines): examples are the text as written
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise DataError(str(yaml_problem(error, source))) from None
    nlu = _mapping_get(root, "nlu") if isinstance(root, yaml.MappingNode) else None
    if nlu is None:
        raise DataError(f"{source}: no 'nlu' key (expected a Rasa-style nlu.yml)")
    if not isinstance(nlu, yaml.SequenceNode):
        raise DataError(f"{source}:{nlu.start_mark.line + 1}: 'nlu' must be a list")
    examples = []
    for entry in nlu.value:
        entry_line = entry.start_mark.line + 1
        if not isinstance(entry, yaml.MappingNode):
            raise DataError(f"{source}:{entry_line}: each 'nlu' entry must be a mapping")
        intent = _mapping_get(entry, "intent")
        if intent is None:
            continue  # synonym:, regex: and lookup: entries hold no training examples
        if not isinstance(intent, yaml.ScalarNode) or not intent.value.strip():
            raise DataError(f"{source}:{entry_line}: 'intent' must be a name")
        label = intent.value.strip()
        block = _mapping_get(entry, "examples")
        if block is None:
            raise DataError(f"{source}:{entry_line}: intent {label!r} has no 'examples'")
        for line, raw in _yaml_examples(block, source):
            text, entities = parse_inline(raw, where=f"{source}:{line}")
            examples.append(Example(text, label, source, line, tuple(entities)))
    return examples


def _mapping_get(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _yaml_examples(block: yaml.Node, source: str) -> Iterator[tuple[int, str]]:
    """Yield (line, text) for each example of an intent, given as a ``|`` block of ``- `` lines or a list."""
    if isinstance(block, yaml.SequenceNode):
        for item in block.value:
            if not isinstance(item, yaml.ScalarNode):
                raise DataError(f"{source}:{item.start_mark.line + 1}: each example must be a string")
            yield item.start_mark.line + 1, item.value
        return
    # Other scalar styles fold or unescape lines, so their examples could not be traced back to lines
    if not isinstance(block, yaml.ScalarNode) or block.style != "|":
        raise DataError(
            f"{source}:{block.start_mark.line + 1}: 'examples' must be a '|' block of '- ' lines or a list"
        )
    # The mark is on the '|' indicator; a literal block keeps every line, blank ones included, so the
    # n-th line of its value is the n-th line after the indicator.
    first_line = block.start_mark.line + 2
    for offset, raw in enumerate(block.value.split("\n")):
        item = raw.lstrip()
        if not item:
            continue
        if item != "-" and not item.startswith("- "):
            raise DataError(f"{source}:{first_line + offset}: expected an example starting with '- '")
        yield first_line + offset, item[2:]


_READERS: dict[str, Reader] = {
    ".csv": partial(_read_delimited, delimiter=","),
    ".tsv": partial(_read_delimited, delimiter="\t"),
    ".jsonl": _read_jsonl,
    ".json": _read_json,
    ".yml": _read_yaml,
    ".yaml": _read_yaml,
}
