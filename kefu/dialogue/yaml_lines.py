"""YAML read with line numbers: the reader the domain file and the story files share.

:func:`load_yaml` returns plain Python values in which every mapping is a :class:`LineMap` and every list
a :class:`LineSeq`, both knowing the (1-based) line of each key or item, so a checker can name
``file:LINE`` for any value it rejects. Duplicate keys, which YAML would silently collapse, are returned
beside the data.
"""

import difflib
from collections.abc import Iterable
from typing import Any

import yaml


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
    loader.flatten_mapping(node)  # resolves "<<" merge keys
    data = LineMap(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        line = key_node.start_mark.line + 1
        if key in data:
            loader.duplicates.append((line, key, data.key_lines[key]))
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
    ``yaml.YAMLError`` when it is not valid YAML (see :func:`yaml_error_line`)."""
    loader = _LineLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


def yaml_error_line(error: yaml.YAMLError) -> int | None:
    """The 1-based line a YAML syntax error points at, when it points at one."""
    mark = getattr(error, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


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
