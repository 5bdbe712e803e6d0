"""YAML read with line numbers: the reader of the domain file, ``kefu.yml`` and the story files.

:func:`load_yaml` returns plain Python values in which every mapping is a :class:`LineMap` and every list
a :class:`LineSeq`, both knowing the (1-based) line of each key or item, so a checker can name
``file:LINE`` for any value it rejects. Duplicate keys, which YAML would silently collapse, are returned
beside the data; :func:`yaml_problem` words a syntax error.

The Rasa-style training data (:mod:`kefu.data.loaders`) is read from YAML's nodes instead: its examples
are the text as written (``- 123`` is the text "123", not a number) and a ``|`` block's lines are counted
from its indicator, neither of which loaded values remember.
"""

import difflib
from collections.abc import Iterable
from typing import Any

import yaml

from kefu.problems import Problem


class LineMap(dict):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineSeq(list):
    """A YAML sequence that remembers its own line and the line of each item."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[int, Any, int]] = []  # (line, key, line of the first one)


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    # a key written twice in one mapping is a duplicate; one that overrides a key merged in by "<<" is not,
    # that is what the merge is for
    written = {id(key_node) for key_node, _ in node.value}
    loader.flatten_mapping(node)  # resolves "<<" merge keys
    data = LineMap(node.start_mark.line + 1)
    own: set[Any] = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        line = key_node.start_mark.line + 1
        if key in own:
            loader.duplicates.append((line, key, data.key_lines[key]))
        if id(key_node) in written:
            own.add(key)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line
    return data


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> LineSeq:
    data = LineSeq(node.start_mark.line + 1)
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_lines.append(item.start_mark.line + 1)
    return data


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(text: str) -> tuple[Any, list[tuple[int, Any, int]]]:
    """The data of a YAML document and its duplicate keys as (line, key, line of the first one);
    ``yaml.YAMLError`` when it is not valid YAML (see :func:`yaml_problem`)."""
    loader = _LineLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


def yaml_problem(error: yaml.YAMLError, source: str) -> Problem:
    """A YAML syntax error as ``source:LINE: invalid YAML: what``, on one line."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    what = getattr(error, "problem", None) or " ".join(str(error).split())
    return Problem(source, mark.line + 1 if mark is not None else None, f"invalid YAML: {what}")


def duplicate_problems(duplicates: list[tuple[int, Any, int]], source: str) -> list[Problem]:
    """The duplicate keys :func:`load_yaml` found, as errors: YAML would keep only the last silently."""
    return [
        Problem(source, line, f"duplicate key {key!r} (first at line {first}); YAML keeps only the last")
        for line, key, first in duplicates
    ]


def kind_of(value: Any) -> str:
    """What a YAML value is, in words for an error message ("a list", "a text")."""
    if value is None:
        return "nothing"
    kinds = {LineMap: "a mapping", LineSeq: "a list", str: "a text", bool: "true/false", int: "a number"}
    kinds[float] = "a number"
    return kinds.get(type(value), type(value).__name__)


def suggest(name: Any, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
